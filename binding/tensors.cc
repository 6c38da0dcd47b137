// The tensor handle functions of lib/tensor.ts: copies to a device and back,
// dispose, share.
#include "exports.h"
#include "handles.h"
#include "js_errors.h"
#include "marshal.h"
#include "device.h"
#include "runtime.h"

namespace pairloss_binding {

namespace {

// The handle among a call's arguments, or a TypeError.
HandleState* handle_arg(const Napi::CallbackInfo& info) {
  HandleState* h = info.Length() > 0 ? handle_state(info[0], "tensor") : nullptr;
  if (h == nullptr) type_error(info.Env(), "tensor must be a tensor handle");
  return h;
}

}  // namespace

Napi::Value TensorToDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsString()) type_error(env, "device must be a string");
  const at::Device device = pairloss::parse_device(info[1].As<Napi::String>().Utf8Value());
  at::Tensor t = tensor_from_js(info[0], "tensor");
  // handle_to_js clones whatever does not own its memory alone (a view over a
  // typed array, an alias of another handle's tensor).
  return handle_to_js(env, pairloss::to_device(t, device));
}

Napi::Value TensorToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return tensor_to_js(env, pairloss::host_copy(live_tensor(env, handle_arg(info), "tensor")));
}

Napi::Value TensorDispose(const Napi::CallbackInfo& info) {
  release(info.Env(), handle_arg(info));
  return info.Env().Undefined();
}

Napi::Value TensorShare(const Napi::CallbackInfo& info) {
  HandleState* h = handle_arg(info);
  const at::Tensor& t = live_tensor(info.Env(), h, "tensor");
  return wrap_handle(info.Env(), new HandleState{t, h->bytes, h->host});
}

}  // namespace pairloss_binding
