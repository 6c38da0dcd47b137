// The losses' native functions: one per row of binding/loss_specs.h, each
// run by binding/loss_call.h's call_loss; and the `out` option they share.
#include "exports.h"
#include "loss_specs.h"

namespace pairloss_binding {

void from_js(const Napi::Value& v, const char* key, GradOut& out) {
  if (!v.IsNull() && !v.IsObject()) type_error(v.Env(), std::string(key) + " must be an object or null");
  out.value = v;
}

void parse_grad_out(GradOut& out, const std::array<const char*, kMaxInputs>& names) {
  out.names = names;
  if (out.value.IsNull()) return;
  const Napi::Object object = out.value.As<Napi::Object>();
  for (size_t i = 0; i < kMaxInputs; ++i) {
    if (names[i] == nullptr) continue;
    out.js[i] = object.Get(names[i]);
    if (!out.js[i].IsNull()) out.views[i] = tensor_from_js(out.js[i], ("out." + std::string(names[i])).c_str());
  }
}

Napi::Value to_js(Napi::Env env, const GradOut& out) {
  bool any = false;
  for (const at::Tensor& t : out.views) any = any || t.defined();
  if (!any) return env.Null();
  Napi::Object object = Napi::Object::New(env);
  for (size_t i = 0; i < kMaxInputs; ++i) {
    if (out.names[i] != nullptr) object.Set(out.names[i], to_js(env, out.views[i]));
  }
  return object;
}

void init_losses(Napi::Env env, Napi::Object exports) { Losses::init(env, exports); }

}  // namespace pairloss_binding
