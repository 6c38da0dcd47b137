#include "common.h"

#include <c10/util/Exception.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "device.h"
#include "errors.h"
#include "runtime.h"

namespace pairloss_binding {

namespace {

[[noreturn]] void type_error(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}
[[noreturn]] void range_error(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

std::vector<int64_t> shape_from_js(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsArray()) type_error(env, std::string(name) + ".shape must be an array of integers");
  auto array = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value v = array.Get(i);
    if (!v.IsNumber()) type_error(env, std::string(name) + ".shape must be an array of integers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0) {
      range_error(env, std::string(name) + ".shape must hold integers >= 0");
    }
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

// Elements of a shape, or -1 on overflow.
int64_t checked_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) {
    if (s != 0 && n > std::numeric_limits<int64_t>::max() / s) return -1;
    n *= s;
  }
  return n;
}

// Process-wide counts of external buffers, for leak tests (memoryStats()).
std::atomic<int64_t> buffers_created{0}, buffers_finalized{0}, bytes_live{0};
// The same for native handles: made, freed (dispose or GC), bytes held (any
// device), and those of them in host memory.
std::atomic<int64_t> handles_created{0}, handles_freed{0}, handle_bytes{0}, host_handle_bytes{0};

// True when t can be handed to one owner (an external ArrayBuffer, a handle)
// without sharing memory with anyone: contiguous, the whole of its storage,
// the storage's only tensor, and memory with an owner (a storage without a
// context is at::from_blob over someone else's memory, e.g. a JS input).
bool owns_memory_alone(const at::Tensor& t) {
  return t.is_contiguous() && t.storage_offset() == 0 && t.storage().nbytes() == t.nbytes() &&
         t.storage().use_count() == 1 && t.storage().data_ptr().get_context() != nullptr;
}

void finalize_tensor(Napi::Env env, void* /*data*/, at::Tensor* holder) {
  const int64_t bytes = static_cast<int64_t>(holder->nbytes());
  delete holder;
  // The C call: a finalizer must not throw, even while the environment shuts down.
  int64_t ignored = 0;
  napi_adjust_external_memory(env, -bytes, &ignored);
  buffers_finalized.fetch_add(1);
  bytes_live.fetch_sub(bytes);
}

}  // namespace

namespace {

// A typed array's element type, length and first byte. Read through
// napi_get_typedarray_info so that views of a SharedArrayBuffer work too
// (Napi::TypedArray::ArrayBuffer() refuses them), and never on a detached buffer.
struct TypedView {
  napi_typedarray_type type;
  size_t length;
  uint8_t* data;
};

TypedView typed_view(const Napi::Value& value, const std::string& name) {
  Napi::Env env = value.Env();
  TypedView view{};
  napi_value buffer;
  void* data = nullptr;
  size_t byte_offset = 0;
  napi_status status = napi_get_typedarray_info(env, value, &view.type, &view.length, &data, &buffer, &byte_offset);
  if (status != napi_ok) type_error(env, name + " must be a typed array");
  bool detached = false;
  // A SharedArrayBuffer is never detached (napi answers false for it).
  if (napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok || detached) {
    range_error(env, name + " is a detached ArrayBuffer (transferred or freed)");
  }
  view.data = static_cast<uint8_t*>(data);
  return view;
}

}  // namespace

// --- native handles -----------------------------------------------------------

namespace {

// Every handle's bytes are reported to V8 as external memory, device memory
// too: V8 cannot free it by itself, but a GC then runs as it grows, which
// bounds what code that never calls dispose() holds.
struct HandleState {
  at::Tensor tensor;  // undefined once freed
  int64_t bytes = 0;
  bool host = false;  // in host memory (a resident CPU tensor)
};

constexpr napi_type_tag kTensorTag = {0x7061697274656e73ULL, 0x6f722d68616e646cULL};

// Frees the handle's tensor now (dispose, or the finalizer). Never throws.
void release(napi_env env, HandleState* h) noexcept {
  if (!h->tensor.defined()) return;
  h->tensor = at::Tensor();
  int64_t ignored = 0;
  napi_adjust_external_memory(env, -h->bytes, &ignored);
  if (h->host) host_handle_bytes.fetch_sub(h->bytes);
  handle_bytes.fetch_sub(h->bytes);
  handles_freed.fetch_add(1);
}

// The External behind `value` (the External itself, or an object's `handle`
// property), or nullptr when value carries no handle. A `handle` that is not
// one of ours is a TypeError.
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

// The live tensor of a handle, or a RangeError naming it.
const at::Tensor& live_tensor(Napi::Env env, HandleState* h, const std::string& name) {
  if (!h->tensor.defined()) range_error(env, name + ": the tensor has been disposed");
  return h->tensor;
}

Napi::Array shape_to_js(Napi::Env env, at::IntArrayRef sizes) {
  Napi::Array shape = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(sizes[i])));
  return shape;
}

// Hands `state` to a new type-tagged External, counts it, and returns
// { handle, shape, dtype, device } for it.
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

}  // namespace

bool is_handle(const Napi::Value& value) {
  if (value.IsExternal()) return true;
  return value.IsObject() && !value.As<Napi::Object>().Get("handle").IsUndefined();
}

bool results_resident(const at::Device& device, std::initializer_list<Napi::Value> inputs) {
  if (!device.is_cpu()) return true;
  for (const Napi::Value& v : inputs) {
    HandleState* h = handle_state(v, "tensor");
    if (h != nullptr && h->tensor.defined() && h->tensor.device().is_cpu()) return true;
  }
  return false;
}

Napi::Object handle_to_js(Napi::Env env, at::Tensor t) {
  if (t.scalar_type() != at::kDouble && t.scalar_type() != at::kFloat) t = t.to(at::kFloat);
  if (!owns_memory_alone(t)) t = t.clone(at::MemoryFormat::Contiguous);
  return wrap_handle(env, new HandleState{t, static_cast<int64_t>(t.nbytes()), t.device().is_cpu()});
}

Napi::Value result_to_js(Napi::Env env, at::Tensor t, bool resident) {
  return resident ? Napi::Value(handle_to_js(env, std::move(t))) : Napi::Value(tensor_to_js(env, std::move(t)));
}

at::Tensor tensor_from_js(const Napi::Value& value, const char* name) {
  Napi::Env env = value.Env();
  if (HandleState* h = handle_state(value, name)) return live_tensor(env, h, name).alias();
  if (!value.IsObject()) type_error(env, std::string(name) + " must be a tensor");
  auto obj = value.As<Napi::Object>();
  Napi::Value data = obj.Get("data");
  if (!data.IsTypedArray()) type_error(env, std::string(name) + ".data must be a Float32Array or Float64Array");
  const TypedView view = typed_view(data, std::string(name) + ".data");
  at::ScalarType dtype;
  size_t element_size;
  switch (view.type) {
    case napi_float32_array: dtype = at::kFloat; element_size = 4; break;
    case napi_float64_array: dtype = at::kDouble; element_size = 8; break;
    default: type_error(env, std::string(name) + ".data must be a Float32Array or Float64Array");
  }
  std::vector<int64_t> shape = shape_from_js(env, obj.Get("shape"), name);
  const int64_t numel = checked_numel(shape);
  if (numel < 0 || static_cast<size_t>(numel) != view.length) {
    range_error(env, std::string(name) + " has " + std::to_string(view.length) +
                         " elements but its shape needs " + (numel < 0 ? std::string("more than 2^63") : std::to_string(numel)));
  }
  if (numel == 0) return at::empty(shape, at::TensorOptions().dtype(dtype));
  if (reinterpret_cast<uintptr_t>(view.data) % element_size != 0) {
    // V8 keeps typed arrays aligned; a misaligned view would be a copy.
    return at::from_blob(view.data, {numel * static_cast<int64_t>(element_size)}, at::TensorOptions().dtype(at::kByte))
        .clone()
        .view(dtype)
        .view(shape);
  }
  return at::from_blob(view.data, shape, at::TensorOptions().dtype(dtype));
}

at::Tensor indices_from_js(const Napi::Value& value, const char* name) {
  Napi::Env env = value.Env();
  if (!value.IsTypedArray()) type_error(env, std::string(name) + " must be an Int32Array, BigInt64Array or number[]");
  const TypedView view = typed_view(value, name);
  const int64_t n = static_cast<int64_t>(view.length);
  switch (view.type) {
    case napi_int32_array:
      return n == 0 ? at::empty({0}, at::kLong) : at::from_blob(view.data, {n}, at::kInt).to(at::kLong);
    case napi_bigint64_array:
      return n == 0 ? at::empty({0}, at::kLong) : at::from_blob(view.data, {n}, at::kLong);
    default: type_error(env, std::string(name) + " must be an Int32Array, BigInt64Array or number[]");
  }
}

Napi::Object tensor_to_js(Napi::Env env, at::Tensor t) {
  if (t.device().type() != at::kCPU) t = t.to(at::kCPU);
  // The buffer must own its memory alone: one ArrayBuffer per allocation.
  // A storage without a context (at::from_blob over someone else's memory, e.g.
  // a JS input) is never handed to an external buffer: V8 aborts on two
  // ArrayBuffers over the same memory.
  if (!owns_memory_alone(t)) t = t.clone(at::MemoryFormat::Contiguous);
  std::vector<int64_t> sizes(t.sizes().begin(), t.sizes().end());
  const size_t bytes = t.nbytes();
  const bool is_double = t.scalar_type() == at::kDouble;
  if (!is_double && t.scalar_type() != at::kFloat) t = t.to(at::kFloat);

  Napi::ArrayBuffer buffer;
  if (bytes == 0) {
    buffer = Napi::ArrayBuffer::New(env, 0);
  } else {
    auto* holder = new at::Tensor(t);
    napi_value raw;
    napi_status status = napi_create_external_arraybuffer(
        env, holder->data_ptr(), bytes,
        [](napi_env e, void* data, void* hint) {
          finalize_tensor(Napi::Env(e), data, static_cast<at::Tensor*>(hint));
        },
        holder, &raw);
    if (status == napi_ok) {
      buffer = Napi::ArrayBuffer(env, raw);
      Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
      buffers_created.fetch_add(1);
      bytes_live.fetch_add(static_cast<int64_t>(bytes));
    } else {
      // External buffers refused (some embedders): copy instead.
      delete holder;
      buffer = Napi::ArrayBuffer::New(env, bytes);
      std::memcpy(buffer.Data(), t.data_ptr(), bytes);
    }
  }
  const size_t length = bytes / (is_double ? 8 : 4);
  Napi::Value data = is_double ? Napi::Value(Napi::Float64Array::New(env, length, buffer, 0))
                               : Napi::Value(Napi::Float32Array::New(env, length, buffer, 0));
  Napi::Array shape = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(sizes[i])));
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", data);
  out.Set("shape", shape);
  return out;
}

JsOutput js_output(Napi::Env env, int64_t rows, int64_t cols, at::ScalarType dtype) {
  JsOutput out;
  const size_t element = dtype == at::kDouble ? 8 : 4;
  if (rows <= 0 || cols <= 0 || static_cast<size_t>(rows) * static_cast<size_t>(cols) > kJsOutputMaxBytes / element) {
    return out;
  }
  // The C calls, checked: while the environment shuts down (a worker being
  // terminated) they fail, and the result then takes the usual route.
  napi_value raw = nullptr;
  void* data = nullptr;
  if (napi_create_arraybuffer(env, static_cast<size_t>(rows * cols) * element, &data, &raw) != napi_ok ||
      raw == nullptr || data == nullptr) {
    return out;
  }
  napi_ref ref = nullptr;
  if (napi_create_reference(env, raw, 1, &ref) != napi_ok || ref == nullptr) return out;
  out.buffer = std::make_shared<Napi::Reference<Napi::ArrayBuffer>>(env, ref);
  out.tensor = at::from_blob(data, {rows, cols}, at::TensorOptions().dtype(dtype));
  return out;
}

Napi::Object output_to_js(Napi::Env env, const JsOutput& out, const at::Tensor& result) {
  if (!out || !result.defined() || result.data_ptr() != out.tensor.data_ptr() || !result.sizes().equals(out.tensor.sizes())) {
    return tensor_to_js(env, result);
  }
  napi_value buffer = nullptr;
  napi_value data = nullptr;
  const size_t length = static_cast<size_t>(result.numel());
  const napi_typedarray_type type = result.scalar_type() == at::kDouble ? napi_float64_array : napi_float32_array;
  if (napi_get_reference_value(env, out.buffer->operator napi_ref(), &buffer) != napi_ok || buffer == nullptr ||
      napi_create_typedarray(env, type, length, buffer, 0, &data) != napi_ok) {
    throw Napi::Error::New(env, "could not make the result's typed array");
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", Napi::Value(env, data));
  o.Set("shape", shape_to_js(env, result.sizes()));
  return o;
}

Napi::Object memory_stats(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("externalBuffers", Napi::Number::New(env, static_cast<double>(buffers_created.load())));
  out.Set("finalizedBuffers", Napi::Number::New(env, static_cast<double>(buffers_finalized.load())));
  out.Set("externalBytes", Napi::Number::New(env, static_cast<double>(bytes_live.load())));
  out.Set("handles", Napi::Number::New(env, static_cast<double>(handles_created.load())));
  out.Set("freedHandles", Napi::Number::New(env, static_cast<double>(handles_freed.load())));
  out.Set("handleBytes", Napi::Number::New(env, static_cast<double>(handle_bytes.load())));
  out.Set("hostHandleBytes", Napi::Number::New(env, static_cast<double>(host_handle_bytes.load())));
  return out;
}

// --- tensor handle functions for lib/tensor.ts ------------------------------------

namespace {

// tensorToDevice(x, device): a handle holding x ({ data, shape } or a handle)
// on `device` ('cpu' too: a resident CPU tensor). A copy, made before this returns.
Napi::Value TensorToDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsString()) type_error(env, "device must be a string");
  const at::Device device = pairloss::parse_device(info[1].As<Napi::String>().Utf8Value());
  at::Tensor t = tensor_from_js(info[0], "tensor");
  // handle_to_js clones whatever does not own its memory alone (a view over a
  // typed array, an alias of another handle's tensor).
  return handle_to_js(env, pairloss::to_device(t, device));
}

// tensorToHost(handle): { data, shape }, a copy in host memory.
Napi::Value TensorToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HandleState* h = info.Length() > 0 ? handle_state(info[0], "tensor") : nullptr;
  if (h == nullptr) type_error(env, "tensor must be a tensor handle");
  return tensor_to_js(env, pairloss::host_copy(live_tensor(env, h, "tensor")));
}

// tensorDispose(handle): frees the handle's memory now; again is a no-op.
Napi::Value TensorDispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HandleState* h = info.Length() > 0 ? handle_state(info[0], "tensor") : nullptr;
  if (h == nullptr) type_error(env, "tensor must be a tensor handle");
  release(env, h);
  return env.Undefined();
}

// tensorShare(handle): a second handle over the same memory (no copy), for a
// call queued in JS: disposing the first then leaves the queued call's input alive.
Napi::Value TensorShare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HandleState* h = info.Length() > 0 ? handle_state(info[0], "tensor") : nullptr;
  if (h == nullptr) type_error(env, "tensor must be a tensor handle");
  const at::Tensor& t = live_tensor(env, h, "tensor");
  return wrap_handle(env, new HandleState{t, h->bytes, h->host});
}

// cudaMemoryStats(index): { allocated, reserved, peakAllocated } of the CUDA
// caching allocator (torch.cuda.memory_allocated & co.); a RangeError without CUDA.
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

}  // namespace

void init_tensors(Napi::Env env, Napi::Object exports) {
  exports.Set("tensorToDevice", Napi::Function::New<guarded<TensorToDevice>>(env, "tensorToDevice"));
  exports.Set("tensorToHost", Napi::Function::New<guarded<TensorToHost>>(env, "tensorToHost"));
  exports.Set("tensorDispose", Napi::Function::New<guarded<TensorDispose>>(env, "tensorDispose"));
  exports.Set("tensorShare", Napi::Function::New<guarded<TensorShare>>(env, "tensorShare"));
  exports.Set("cudaMemoryStats", Napi::Function::New<guarded<CudaMemoryStats>>(env, "cudaMemoryStats"));
  exports.Set("cudaEmptyCache", Napi::Function::New<guarded<CudaEmptyCache>>(env, "cudaEmptyCache"));
  exports.Set("cudaCompiled", Napi::Boolean::New(env, pairloss::cuda_compiled()));
}

double get_number(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) type_error(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool get_bool(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) type_error(o.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string get_string(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) type_error(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object get_options(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined()) return Napi::Object::New(info.Env());
  if (!info[index].IsObject()) type_error(info.Env(), "options must be an object");
  return info[index].As<Napi::Object>();
}

void CapturedError::capture() {
  try {
    throw;
  } catch (const pairloss::ArgumentError& e) {
    kind = e.kind() == pairloss::ArgumentError::Kind::Type ? Kind::Type : Kind::Range;
    message = e.what();
  } catch (const c10::Error& e) {
    kind = Kind::Plain;
    message = e.what_without_backtrace();
  } catch (const std::exception& e) {
    kind = Kind::Plain;
    message = e.what();
  } catch (...) {
    kind = Kind::Plain;
    message = "unknown native error";
  }
}

Napi::Error CapturedError::to_js(Napi::Env env) const {
  switch (kind) {
    case Kind::Type: return Napi::TypeError::New(env, message);
    case Kind::Range: return Napi::RangeError::New(env, message);
    default: return Napi::Error::New(env, message);
  }
}

void settle_promise(Napi::Env env, Napi::Promise::Deferred& deferred,
                    const std::function<Napi::Value(Napi::Env)>& finish) noexcept {
  try {
    Napi::HandleScope scope(env);
    try {
      deferred.Resolve(finish(env));
    } catch (const Napi::Error& e) {
      deferred.Reject(e.Value());
    } catch (...) {
      CapturedError e;
      e.capture();
      deferred.Reject(e.to_js(env).Value());
    }
  } catch (...) {
    // The environment is going away: nobody is left to see the result.
  }
}

void reject_promise(Napi::Env env, Napi::Promise::Deferred& deferred, const CapturedError& error) noexcept {
  try {
    Napi::HandleScope scope(env);
    deferred.Reject(error.to_js(env).Value());
  } catch (...) {
    // As in settle_promise.
  }
}

void rethrow_as_js(Napi::Env env) {
  CapturedError e;
  e.capture();
  throw e.to_js(env);
}

}  // namespace pairloss_binding
