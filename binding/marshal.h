// JS values <-> at::Tensor: typed-array inputs as views (no copy), results as
// typed arrays over memory they own (no copy either).
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace pairloss_binding {

// A JS tensor as lib/ hands it over: { data: Float32Array | Float64Array, shape: number[] }
// or a native handle (an object whose `handle` is one, or the handle itself).
// For typed arrays: a CPU tensor over the array's memory (no copy); the caller
// keeps the JS object alive while the tensor is in use. For a handle: its
// tensor, on its device (an alias: a new TensorImpl over the same memory, so
// that nothing done to the input's metadata reaches the handle). A disposed
// handle is a RangeError "<name>: the tensor has been disposed".
at::Tensor tensor_from_js(const Napi::Value& value, const char* name);

// Class indices: Int32Array | BigInt64Array (lib/ converts number[] first),
// always copied (a widening copy for Int32Array): native code checks them and
// reads them again, which must not see another thread's writes.
at::Tensor indices_from_js(const Napi::Value& value, const char* name);

// A CPU result as { data, shape }: the typed array views an external
// ArrayBuffer that owns the tensor (freed by its finalizer after GC). A copy
// where the tensor does not own its memory alone or external buffers are refused.
Napi::Object tensor_to_js(Napi::Env env, at::Tensor tensor);

// A result: a handle when `resident`, else { data, shape } over host memory (tensor_to_js).
Napi::Value result_to_js(Napi::Env env, at::Tensor t, bool resident);

// Memory for a small CPU result that JS will own outright: a V8 ArrayBuffer
// (no external buffer, no finalizer, no native allocation to free later) and
// a tensor over it that native code computes into. Results above
// kJsOutputMaxBytes take the external-buffer route (tensor_to_js): V8 zeroes
// the memory it allocates, which large results would pay for twice.
// The reference keeps the buffer alive while native code may write to it;
// made, read and released on the JS thread.
constexpr size_t kJsOutputMaxBytes = size_t{1} << 20;
struct JsOutput {
  std::shared_ptr<Napi::Reference<Napi::ArrayBuffer>> buffer;
  at::Tensor tensor;  // [rows, cols] over the buffer's memory
  // Caller memory (a loss's `out`): the { data, shape } object whose array
  // the result must end in, and its name for errors. See user_output.
  std::shared_ptr<Napi::Reference<Napi::Object>> user;
  std::string name;
  explicit operator bool() const { return tensor.defined(); }
};
// An output into caller memory `value` ({ data, shape }, checked by lib/).
// A sync call (`direct`) computes straight into it; an async call computes
// into memory of its own (`internal`, may be empty) and output_to_js copies
// the result over on the JS thread: the caller's array could be transferred
// or resized while the pool computes, and nothing writes to it off the JS
// thread.
JsOutput user_output(const Napi::Value& value, const at::Tensor& view, std::string name, bool direct, JsOutput internal);
// An output of [rows, cols] (float32/float64), or an empty one where it would
// be larger than kJsOutputMaxBytes.
JsOutput js_output(Napi::Env env, int64_t rows, int64_t cols, at::ScalarType dtype);
// `result` as { data, shape }: over the JsOutput's buffer when native code
// computed into it, else as tensor_to_js makes it. For caller memory: that
// object, with `result` copied into its array where it is not there already
// (a RangeError naming it if the array was detached or resized meanwhile).
Napi::Object output_to_js(Napi::Env env, const JsOutput& out, const at::Tensor& result);

// Process-wide counts of the external buffers made by tensor_to_js: made,
// finalized by GC, bytes still held (leak tests).
struct BufferCounts {
  int64_t created, finalized, bytes;
};
BufferCounts buffer_counts();

}  // namespace pairloss_binding
