// The module's export table. Each concern registers its functions here.
#include <napi.h>

#include <mutex>

#include "ce_kernels.h"
#include "chunked.h"
#include "common.h"
#include "fused.h"
#include "runtime.h"

namespace pairloss_binding {

void init_ops(Napi::Env env, Napi::Object exports);
void init_losses(Napi::Env env, Napi::Object exports);
void init_affine(Napi::Env env, Napi::Object exports);
void init_process_group(Napi::Env env, Napi::Object exports);

namespace {

Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), pairloss::cuda_is_available());
}
Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), pairloss::cuda_device_count());
}
// setFusedKernels(enabled): the hand-derived CPU kernels (default) or the
// autograd reference path, for tests that check both against PyTorch.
Napi::Value SetFusedKernels(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "enabled must be a boolean");
  pairloss::set_fused_enabled(info[0].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}
// chunking([rows, budgetBytes]): the row-block N-pairs path's settings
// (src/chunked.h), set when given, and { rows, budgetBytes, calls }.
Napi::Value Chunking(const Napi::CallbackInfo& info) {
  if (info.Length() >= 2) {
    if (!info[0].IsNumber() || !info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "rows and budgetBytes must be numbers");
    pairloss::set_chunking(info[0].As<Napi::Number>().Int64Value(), info[1].As<Napi::Number>().Int64Value());
  }
  const pairloss::ChunkingSettings s = pairloss::chunking();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("rows", Napi::Number::New(info.Env(), static_cast<double>(s.rows)));
  out.Set("budgetBytes", Napi::Number::New(info.Env(), static_cast<double>(s.budget_bytes)));
  out.Set("calls", Napi::Number::New(info.Env(), static_cast<double>(s.calls)));
  return out;
}
Napi::Value MemoryStats(const Napi::CallbackInfo& info) { return memory_stats(info.Env()); }
Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), pairloss::get_num_threads());
}
Napi::Value GetBlasThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), pairloss::get_blas_threads());
}
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "n must be a number");
  pairloss::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  static std::once_flag threads_once;
  std::call_once(threads_once, pairloss::init_threads);
  exports.Set("torchVersion", Napi::String::New(env, pairloss::torch_version()));
  exports.Set("hasGloo", Napi::Boolean::New(env, pairloss::has_gloo()));
  exports.Set("hasNccl", Napi::Boolean::New(env, pairloss::has_nccl()));
  exports.Set("cpuKernels", Napi::String::New(env, pairloss::ce::kernel_name()));
  exports.Set("cudaIsAvailable", Napi::Function::New<guarded<CudaIsAvailable>>(env, "cudaIsAvailable"));
  exports.Set("cudaDeviceCount", Napi::Function::New<guarded<CudaDeviceCount>>(env, "cudaDeviceCount"));
  exports.Set("setFusedKernels", Napi::Function::New<guarded<SetFusedKernels>>(env, "setFusedKernels"));
  exports.Set("chunking", Napi::Function::New<guarded<Chunking>>(env, "chunking"));
  exports.Set("memoryStats", Napi::Function::New<guarded<MemoryStats>>(env, "memoryStats"));
  exports.Set("getNumThreads", Napi::Function::New<guarded<GetNumThreads>>(env, "getNumThreads"));
  exports.Set("getBlasThreads", Napi::Function::New<guarded<GetBlasThreads>>(env, "getBlasThreads"));
  exports.Set("setNumThreads", Napi::Function::New<guarded<SetNumThreads>>(env, "setNumThreads"));
  init_tensors(env, exports);
  init_ops(env, exports);
  init_losses(env, exports);
  init_affine(env, exports);
  init_process_group(env, exports);
  return exports;
}

}  // namespace pairloss_binding

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return pairloss_binding::init(env, exports);
}

NODE_API_MODULE(pairloss, InitModule)
