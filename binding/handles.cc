#include "handles.h"

#include <atomic>

#include "js_errors.h"

namespace pairloss_binding {

namespace {

std::atomic<int64_t> handles_created{0}, handles_freed{0}, handle_bytes{0}, host_handle_bytes{0};

constexpr napi_type_tag kTensorTag = {0x7061697274656e73ULL, 0x6f722d68616e646cULL};

}  // namespace

void release(napi_env env, HandleState* h) noexcept {
  if (!h->tensor.defined()) return;
  h->tensor = at::Tensor();
  int64_t ignored = 0;
  napi_adjust_external_memory(env, -h->bytes, &ignored);
  if (h->host) host_handle_bytes.fetch_sub(h->bytes);
  handle_bytes.fetch_sub(h->bytes);
  handles_freed.fetch_add(1);
}

HandleState* handle_state(const Napi::Value& value, const std::string& name) {
  Napi::Value h = value;
  if (!value.IsExternal()) {
    if (!value.IsObject()) return nullptr;
    h = value.As<Napi::Object>().Get("handle");
    if (h.IsUndefined()) return nullptr;
  }
  if (!h.IsExternal() || !h.As<Napi::External<HandleState>>().CheckTypeTag(&kTensorTag)) {
    type_error(value.Env(), name + " must be a tensor (its handle is not a pairloss tensor handle)");
  }
  return h.As<Napi::External<HandleState>>().Data();
}

const at::Tensor& live_tensor(Napi::Env env, HandleState* h, const std::string& name) {
  if (!h->tensor.defined()) range_error(env, name + ": the tensor has been disposed");
  return h->tensor;
}

Napi::Array shape_to_js(Napi::Env env, at::IntArrayRef sizes) {
  Napi::Array shape = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(sizes[i])));
  return shape;
}

Napi::Object wrap_handle(Napi::Env env, HandleState* state) {
  Napi::External<HandleState> external;
  try {
    external = Napi::External<HandleState>::New(env, state, [](Napi::Env e, HandleState* h) {
      release(e, h);
      delete h;
    });
  } catch (...) {
    delete state;
    throw;
  }
  external.TypeTag(&kTensorTag);
  handles_created.fetch_add(1);
  handle_bytes.fetch_add(state->bytes);
  if (state->host) host_handle_bytes.fetch_add(state->bytes);
  Napi::MemoryManagement::AdjustExternalMemory(env, state->bytes);
  const at::Tensor& t = state->tensor;
  Napi::Object out = Napi::Object::New(env);
  out.Set("handle", external);
  out.Set("shape", shape_to_js(env, t.sizes()));
  out.Set("dtype", Napi::String::New(env, t.scalar_type() == at::kDouble ? "float64" : "float32"));
  out.Set("device", Napi::String::New(env, t.device().str()));
  return out;
}

bool is_handle(const Napi::Value& value) {
  if (value.IsExternal()) return true;
  return value.IsObject() && !value.As<Napi::Object>().Get("handle").IsUndefined();
}

bool results_resident(const at::Device& device, const std::vector<Napi::Value>& inputs) {
  if (!device.is_cpu()) return true;
  for (const Napi::Value& v : inputs) {
    HandleState* h = handle_state(v, "tensor");
    if (h != nullptr && h->tensor.defined() && h->tensor.device().is_cpu()) return true;
  }
  return false;
}

bool owns_memory_alone(const at::Tensor& t) {
  return t.is_contiguous() && t.storage_offset() == 0 && t.storage().nbytes() == t.nbytes() &&
         t.storage().use_count() == 1 && t.storage().data_ptr().get_context() != nullptr;
}

Napi::Object handle_to_js(Napi::Env env, at::Tensor t) {
  if (t.scalar_type() != at::kDouble && t.scalar_type() != at::kFloat) t = t.to(at::kFloat);
  if (!owns_memory_alone(t)) t = t.clone(at::MemoryFormat::Contiguous);
  return wrap_handle(env, new HandleState{t, static_cast<int64_t>(t.nbytes()), t.device().is_cpu()});
}

HandleCounts handle_counts() {
  return {handles_created.load(), handles_freed.load(), handle_bytes.load(), host_handle_bytes.load()};
}

}  // namespace pairloss_binding
