// The module's export table (the functions: binding/exports.h).
#include <napi.h>

#include "ce_kernels.h"
#include "device.h"
#include "exports.h"
#include "js_errors.h"
#include "runtime.h"

namespace pairloss_binding {

namespace {

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
void function(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New<guarded<F>>(env, name));
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  init_runtime_once();
  exports.Set("torchVersion", Napi::String::New(env, pairloss::torch_version()));
  exports.Set("hasGloo", Napi::Boolean::New(env, pairloss::has_gloo()));
  exports.Set("hasNccl", Napi::Boolean::New(env, pairloss::has_nccl()));
  exports.Set("cpuKernels", Napi::String::New(env, pairloss::ce::kernel_name()));
  exports.Set("blasCore", Napi::String::New(env, pairloss::blas_core()));
  exports.Set("cudaCompiled", Napi::Boolean::New(env, pairloss::cuda_compiled()));
  function<CudaIsAvailable>(env, exports, "cudaIsAvailable");
  function<CudaDeviceCount>(env, exports, "cudaDeviceCount");
  function<CudaMemoryStats>(env, exports, "cudaMemoryStats");
  function<CudaEmptyCache>(env, exports, "cudaEmptyCache");
  function<SetFusedKernels>(env, exports, "setFusedKernels");
  function<Chunking>(env, exports, "chunking");
  function<MemoryStats>(env, exports, "memoryStats");
  function<Workspace>(env, exports, "workspace");
  function<PoolCalls>(env, exports, "poolCalls");
  function<GetNumThreads>(env, exports, "getNumThreads");
  function<GetBlasThreads>(env, exports, "getBlasThreads");
  function<SetNumThreads>(env, exports, "setNumThreads");
  function<TensorToDevice>(env, exports, "tensorToDevice");
  function<TensorToHost>(env, exports, "tensorToHost");
  function<TensorDispose>(env, exports, "tensorDispose");
  function<TensorShare>(env, exports, "tensorShare");
  function<Normalize>(env, exports, "normalize");
  function<Matmul>(env, exports, "matmul");
  function<CsrCreate>(env, exports, "csrCreate");
  function<SparseMatmul>(env, exports, "sparseMatmul");
  function<CsrIndexSelect>(env, exports, "csrIndexSelect");
  function<Adam>(env, exports, "adam");
  function<CrossEntropy>(env, exports, "crossEntropy");
  function<BatchNorm1d>(env, exports, "batchNorm1d");
  function<CosineSimilarity>(env, exports, "cosineSimilarity");
  init_losses(env, exports);
#ifdef PAIRLOSS_BINDING_SELFTEST
  init_selftest_losses(env, exports);
#endif
  function<EchoOptions>(env, exports, "_echoOptions");
  function<CsrParts>(env, exports, "_csrParts");
  init_process_group(env, exports);
  return exports;
}

}  // namespace pairloss_binding

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return pairloss_binding::init(env, exports);
}

NODE_API_MODULE(pairloss, InitModule)
