// Device placement: copies between devices, running work with a device
// current on the calling thread, waiting for a CUDA stream, and the CUDA
// caching allocator's counts. CUDA code is compiled only when LibTorch has
// CUDA (PAIRLOSS_WITH_CUDA, set by CMakeLists.txt); otherwise a CUDA device
// cannot be named (parse_device refuses it) and these are CPU no-ops.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>

namespace pairloss {

// True when this build carries CUDA code (its LibTorch has CUDA).
bool cuda_compiled();

// t on `device`: t itself when it is already there, else a copy that has
// finished when this returns (a blocking copy, so the source may be freed).
at::Tensor to_device(const at::Tensor& t, const at::Device& device);

// t in host memory, owned by the result alone: a copy, even for a CPU tensor
// (the copy a handle's data() hands out; writes to it never reach t).
at::Tensor host_copy(const at::Tensor& t);

// Waits until everything queued on `device`'s current stream (for this
// thread) has run. A no-op on CPU.
void synchronize(const at::Device& device);

// Runs `work` with `device` current on this thread (a device guard); with
// `wait`, then waits for the device's stream, so that when this returns every
// result `work` left on the device is complete (what a pool thread does before
// a Promise settles). On CPU, just `work()`.
void run_on_device(const at::Device& device, const std::function<void()>& work, bool wait = true);

// The CUDA caching allocator's counts for device `index`, as
// torch.cuda.memory_allocated / memory_reserved / max_memory_allocated give
// them. A RangeError without CUDA or for a device that does not exist.
struct CudaMemory {
  int64_t allocated = 0;       // bytes in tensors that are alive
  int64_t reserved = 0;        // bytes the allocator holds from the driver (cached included)
  int64_t peak_allocated = 0;  // the most `allocated` has been
};
CudaMemory cuda_memory(int index);

// Returns the allocator's unused cached blocks to the driver
// (torch.cuda.empty_cache). A no-op without CUDA.
void cuda_empty_cache();

}  // namespace pairloss
