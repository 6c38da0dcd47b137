#include "device.h"

#include <c10/core/DeviceGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include <string>

#ifdef PAIRLOSS_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "errors.h"
#include "runtime.h"

namespace pairloss {

bool cuda_compiled() {
#ifdef PAIRLOSS_WITH_CUDA
  return true;
#else
  return false;
#endif
}

at::Tensor to_device(const at::Tensor& t, const at::Device& device) {
  if (t.device() == device) return t;
  // non_blocking = false: a host -> device copy has read the host memory when
  // this returns, and a device -> host copy has landed.
  return t.to(device, /*non_blocking=*/false, /*copy=*/false);
}

at::Tensor host_copy(const at::Tensor& t) {
  if (t.device().is_cpu()) return t.clone(at::MemoryFormat::Contiguous);
  // A blocking copy to a new host tensor (it waits for the device's stream).
  return t.to(at::kCPU, /*non_blocking=*/false, /*copy=*/true).contiguous();
}

void synchronize(const at::Device& device) {
  if (device.is_cpu()) return;
#ifdef PAIRLOSS_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::getCurrentCUDAStream(device.index() < 0 ? c10::cuda::current_device() : device.index()).synchronize();
    return;
  }
#endif
  // Another backend (or CUDA reached without PAIRLOSS_WITH_CUDA): through
  // the device's registered guard implementation.
  const c10::impl::DeviceGuardImplInterface* impl = c10::impl::getDeviceGuardImpl(device.type());
  impl->getStream(device).synchronize();
}

void run_on_device(const at::Device& device, const std::function<void()>& work, bool wait) {
  if (device.is_cpu()) {
    work();
    return;
  }
#ifdef PAIRLOSS_WITH_CUDA
  if (device.is_cuda()) {
    // Work on a pool thread: make the device current there (new tensors and
    // kernels go to it), then wait for its stream, so that the caller may
    // settle a Promise and the results are complete.
    c10::cuda::CUDAGuard guard(device);
    work();
    if (wait) c10::cuda::getCurrentCUDAStream(guard.current_device().index()).synchronize();
    return;
  }
#endif
  c10::DeviceGuard guard(device);
  work();
  if (wait) synchronize(device);
}

CudaMemory cuda_memory(int index) {
#ifdef PAIRLOSS_WITH_CUDA
  if (index < 0 || index >= cuda_device_count()) {
    throw_range_error("device must be a CUDA device index in [0, " + std::to_string(cuda_device_count()) +
                      "), got " + std::to_string(index));
  }
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(index));
  // Index 0 is StatType::AGGREGATE (small and large pools together) in
  // LibTorch 1.13 (c10::cuda::CUDACachingAllocator::StatType) and 2.x
  // (c10::CachingDeviceAllocator::StatType) alike.
  constexpr size_t aggregate = 0;
  CudaMemory m;
  m.allocated = stats.allocated_bytes[aggregate].current;
  m.reserved = stats.reserved_bytes[aggregate].current;
  m.peak_allocated = stats.allocated_bytes[aggregate].peak;
  return m;
#else
  throw_range_error("CUDA memory statistics need a LibTorch with CUDA; this one (" + torch_version() +
                    ") has none (device " + std::to_string(index) + ")");
#endif
}

void cuda_empty_cache() {
#ifdef PAIRLOSS_WITH_CUDA
  if (cuda_is_available()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

}  // namespace pairloss
