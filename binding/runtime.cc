// Runtime functions of lib/runtime.ts: CUDA, threads, kernel switches,
// memory counts.
#include <mutex>

#include "async_call.h"
#include "ce_kernels.h"
#include "chunked.h"
#include "device.h"
#include "exports.h"
#include "fused.h"
#include "handles.h"
#include "js_errors.h"
#include "marshal.h"
#include "runtime.h"

namespace pairloss_binding {

void init_runtime_once() {
  static std::once_flag threads_once;
  std::call_once(threads_once, pairloss::init_threads);
}

Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), pairloss::cuda_is_available());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), pairloss::cuda_device_count());
}

Napi::Value CudaMemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) type_error(env, "device must be a CUDA device index");
  const pairloss::CudaMemory m = pairloss::cuda_memory(info[0].As<Napi::Number>().Int32Value());
  Napi::Object out = Napi::Object::New(env);
  out.Set("allocated", Napi::Number::New(env, static_cast<double>(m.allocated)));
  out.Set("reserved", Napi::Number::New(env, static_cast<double>(m.reserved)));
  out.Set("peakAllocated", Napi::Number::New(env, static_cast<double>(m.peak_allocated)));
  return out;
}

Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info) {
  pairloss::cuda_empty_cache();
  return info.Env().Undefined();
}

Napi::Value SetFusedKernels(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) type_error(info.Env(), "enabled must be a boolean");
  pairloss::set_fused_enabled(info[0].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

Napi::Value Chunking(const Napi::CallbackInfo& info) {
  if (info.Length() >= 2) {
    if (!info[0].IsNumber() || !info[1].IsNumber()) type_error(info.Env(), "rows and budgetBytes must be numbers");
    pairloss::set_chunking(info[0].As<Napi::Number>().Int64Value(), info[1].As<Napi::Number>().Int64Value());
  }
  const pairloss::ChunkingSettings s = pairloss::chunking();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("rows", Napi::Number::New(info.Env(), static_cast<double>(s.rows)));
  out.Set("budgetBytes", Napi::Number::New(info.Env(), static_cast<double>(s.budget_bytes)));
  out.Set("calls", Napi::Number::New(info.Env(), static_cast<double>(s.calls)));
  return out;
}

Napi::Value Workspace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() >= 1 && !info[0].IsBoolean()) type_error(env, "release must be a boolean");
  const pairloss::WorkspaceStats s = pairloss::workspace_stats(info.Length() >= 1 && info[0].As<Napi::Boolean>().Value());
  Napi::Object out = Napi::Object::New(env);
  out.Set("reuses", Napi::Number::New(env, static_cast<double>(s.reuses)));
  out.Set("allocations", Napi::Number::New(env, static_cast<double>(s.allocations)));
  out.Set("heldBytes", Napi::Number::New(env, static_cast<double>(s.held_bytes)));
  return out;
}

Napi::Value PoolCalls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const PoolCounts c = pool_counts();
  Napi::Object out = Napi::Object::New(env);
  out.Set("pending", Napi::Number::New(env, static_cast<double>(c.pending)));
  out.Set("running", Napi::Number::New(env, static_cast<double>(c.running)));
  out.Set("finished", Napi::Number::New(env, static_cast<double>(c.finished)));
  return out;
}

Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const BufferCounts b = buffer_counts();
  const HandleCounts h = handle_counts();
  Napi::Object out = Napi::Object::New(env);
  out.Set("externalBuffers", Napi::Number::New(env, static_cast<double>(b.created)));
  out.Set("finalizedBuffers", Napi::Number::New(env, static_cast<double>(b.finalized)));
  out.Set("externalBytes", Napi::Number::New(env, static_cast<double>(b.bytes)));
  out.Set("handles", Napi::Number::New(env, static_cast<double>(h.created)));
  out.Set("freedHandles", Napi::Number::New(env, static_cast<double>(h.freed)));
  out.Set("handleBytes", Napi::Number::New(env, static_cast<double>(h.bytes)));
  out.Set("hostHandleBytes", Napi::Number::New(env, static_cast<double>(h.host_bytes)));
  return out;
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), pairloss::get_num_threads());
}

Napi::Value GetBlasThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), pairloss::get_blas_threads());
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) type_error(info.Env(), "n must be a number");
  pairloss::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

}  // namespace pairloss_binding
