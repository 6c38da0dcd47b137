#include "marshal.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <string>
#include <vector>

#include "handles.h"
#include "js_errors.h"

namespace pairloss_binding {

namespace {

std::atomic<int64_t> buffers_created{0}, buffers_finalized{0}, bytes_live{0};

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

void finalize_tensor(Napi::Env env, void* /*data*/, at::Tensor* holder) {
  const int64_t bytes = static_cast<int64_t>(holder->nbytes());
  delete holder;
  // The C call: a finalizer must not throw, even while the environment shuts down.
  int64_t ignored = 0;
  napi_adjust_external_memory(env, -bytes, &ignored);
  buffers_finalized.fetch_add(1);
  bytes_live.fetch_sub(bytes);
}

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
      // A copy, as for Int32Array: src checks the range and then reads the
      // indices again, so they must be memory no other thread can write (a
      // view of a SharedArrayBuffer could change between the two reads).
      return n == 0 ? at::empty({0}, at::kLong) : at::from_blob(view.data, {n}, at::kLong).clone();
    default: type_error(env, std::string(name) + " must be an Int32Array, BigInt64Array or number[]");
  }
}

Napi::Object tensor_to_js(Napi::Env env, at::Tensor t) {
  if (t.device().type() != at::kCPU) t = t.to(at::kCPU);
  // The buffer must own its memory alone: one ArrayBuffer per allocation.
  // A storage without a context (at::from_blob over someone else's memory, e.g.
  // a JS input) is never handed to an external buffer: V8 aborts on two
  // ArrayBuffers over the same memory.
  // Non-float tensors (indices) become float32 first, a tensor of its own.
  if (t.scalar_type() != at::kDouble && t.scalar_type() != at::kFloat) t = t.to(at::kFloat);
  if (!owns_memory_alone(t)) t = t.clone(at::MemoryFormat::Contiguous);
  std::vector<int64_t> sizes(t.sizes().begin(), t.sizes().end());
  const size_t bytes = t.nbytes();
  const bool is_double = t.scalar_type() == at::kDouble;

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
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", data);
  out.Set("shape", shape_to_js(env, sizes));
  return out;
}

Napi::Value result_to_js(Napi::Env env, at::Tensor t, bool resident) {
  return resident ? Napi::Value(handle_to_js(env, std::move(t))) : Napi::Value(tensor_to_js(env, std::move(t)));
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

JsOutput user_output(const Napi::Value& value, const at::Tensor& view, std::string name, bool direct, JsOutput internal) {
  JsOutput out = direct ? JsOutput() : std::move(internal);
  if (direct) out.tensor = view;
  out.user = std::make_shared<Napi::Reference<Napi::Object>>(Napi::Persistent(value.As<Napi::Object>()));
  out.name = std::move(name);
  return out;
}

namespace {

// The caller's array of `out` now: a CPU tensor over it, of `like`'s size and
// dtype, or a RangeError naming it.
at::Tensor user_memory(Napi::Env env, const JsOutput& out, const at::Tensor& like) {
  const Napi::Value data = out.user->Value().Get("data");
  if (!data.IsTypedArray()) throw Napi::TypeError::New(env, out.name + ": expected a typed array");
  const Napi::TypedArray array = data.As<Napi::TypedArray>();
  const size_t bytes = static_cast<size_t>(like.numel()) * like.element_size();
  Napi::ArrayBuffer buffer = array.ArrayBuffer();
  if (buffer.Data() == nullptr || array.ByteLength() != bytes) {
    throw Napi::RangeError::New(env, out.name + ": its memory was detached or resized while the call ran");
  }
  return at::from_blob(static_cast<uint8_t*>(buffer.Data()) + array.ByteOffset(), like.sizes(),
                       at::TensorOptions().dtype(like.scalar_type()));
}

}  // namespace

Napi::Object output_to_js(Napi::Env env, const JsOutput& out, const at::Tensor& result) {
  if (out.user) {
    const at::Tensor host = result.device().is_cpu() ? result : result.cpu();
    const at::Tensor memory = user_memory(env, out, host);
    if (memory.data_ptr() != host.data_ptr()) memory.copy_(host);
    return out.user->Value();
  }
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

BufferCounts buffer_counts() { return {buffers_created.load(), buffers_finalized.load(), bytes_live.load()}; }

}  // namespace pairloss_binding
