// Every function the addon exports, by the file that defines it; the table
// in binding/addon.cc gives each its JS name. lib/binding.ts types them.
#pragma once

#include <napi.h>

namespace pairloss_binding {

// binding/runtime.cc
void init_runtime_once();  // LibTorch's threads, once per process
Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info);
Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info);
Napi::Value CudaMemoryStats(const Napi::CallbackInfo& info);   // (index) -> { allocated, reserved, peakAllocated }
Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info);
Napi::Value SetFusedKernels(const Napi::CallbackInfo& info);   // (enabled): fused CPU kernels or the autograd path
Napi::Value Chunking(const Napi::CallbackInfo& info);          // ([rows, budgetBytes]) -> { rows, budgetBytes, calls }
Napi::Value MemoryStats(const Napi::CallbackInfo& info);       // external buffers and handles, for leak tests
Napi::Value Workspace(const Napi::CallbackInfo& info);         // ([release]) -> { reuses, allocations, heldBytes }, tests
Napi::Value PoolCalls(const Napi::CallbackInfo& info);         // () -> { pending, running, finished }, tests
Napi::Value GetNumThreads(const Napi::CallbackInfo& info);
Napi::Value GetBlasThreads(const Napi::CallbackInfo& info);
Napi::Value SetNumThreads(const Napi::CallbackInfo& info);

// binding/tensors.cc
Napi::Value TensorToDevice(const Napi::CallbackInfo& info);    // (tensor, device) -> a handle holding a copy
Napi::Value TensorToHost(const Napi::CallbackInfo& info);      // (handle) -> { data, shape }, a copy
Napi::Value TensorDispose(const Napi::CallbackInfo& info);     // (handle): frees its memory now
Napi::Value TensorShare(const Napi::CallbackInfo& info);       // (handle) -> a second handle, same memory

// binding/ops.cc: (tensors..., options) -> a tensor
Napi::Value Normalize(const Napi::CallbackInfo& info);
Napi::Value CrossEntropy(const Napi::CallbackInfo& info);
Napi::Value BatchNorm1d(const Napi::CallbackInfo& info);
Napi::Value CosineSimilarity(const Napi::CallbackInfo& info);

// binding/train_ops.cc: (inputs..., options, async) -> a tensor (undefined with `out`), or a Promise
Napi::Value Matmul(const Napi::CallbackInfo& info);        // (a, b, options, async)
Napi::Value CsrCreate(const Napi::CallbackInfo& info);     // ({ indptr, indices, values, shape }) -> a CSR External
Napi::Value SparseMatmul(const Napi::CallbackInfo& info);  // (csr, b, options, async)
Napi::Value CsrIndexSelect(const Napi::CallbackInfo& info);  // (csr, rows, { out }) -> { csr, nnz }: sync
Napi::Value CsrParts(const Napi::CallbackInfo& info);        // (csr) -> { indptr, indices, values, bytes }: copies, tests
Napi::Value Adam(const Napi::CallbackInfo& info);          // (params, grads, expAvgs, expAvgSqs, maxExpAvgSqs, options, async)

// binding/losses.cc: the losses of binding/loss_specs.h's table (its own
// names), each (inputs..., options, async) -> a result, or a Promise of one
void init_losses(Napi::Env env, Napi::Object exports);
#ifdef PAIRLOSS_BINDING_SELFTEST
// binding/loss_call_selftest.cc: throwaway 1- and 3-input losses (cmake -DPAIRLOSS_BINDING_SELFTEST=ON only)
void init_selftest_losses(Napi::Env env, Napi::Object exports);
#endif

// binding/echo.cc: (kind, options) -> the options as the binding parsed them (tests)
Napi::Value EchoOptions(const Napi::CallbackInfo& info);

// binding/process_group.cc: processGroupConnect, processGroupInfo, ... (its own table)
void init_process_group(Napi::Env env, Napi::Object exports);

}  // namespace pairloss_binding
