// Shared glue: JS values <-> at::Tensor, option readers, and the one place
// where C++ exceptions become JS errors.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace pairloss_binding {

// A JS tensor as lib/ hands it over: { data: Float32Array | Float64Array, shape: number[] }
// or a native handle (an object whose `handle` is one, or the handle itself).
// For typed arrays: a CPU tensor over the array's memory (no copy); the caller
// keeps the JS object alive while the tensor is in use. For a handle: its
// tensor, on its device (an alias: a new TensorImpl over the same memory, so
// that nothing done to the input's metadata reaches the handle). A disposed
// handle is a RangeError "<name>: the tensor has been disposed".
at::Tensor tensor_from_js(const Napi::Value& value, const char* name);

// Native tensor handles: a type-tagged External owning an at::Tensor that
// stays in native memory -- on a CUDA device, or on the CPU ("resident", the
// internal mode that tests the same machinery without a GPU). JS sees
// { handle, shape, dtype, device }. The memory is freed by tensorDispose (at
// once) or by the External's finalizer after GC, whichever comes first.
// Handles are immutable from JS: data goes out only as copies (tensorToHost).

// True if `value` is a handle or an object carrying one in `handle`.
bool is_handle(const Napi::Value& value);

// Whether a call's results go back as handles: when computed on a device other
// than the CPU, or on the CPU with a resident CPU handle among `inputs`.
bool results_resident(const at::Device& device, std::initializer_list<Napi::Value> inputs);

// A new handle over t: { handle, shape, dtype, device }. t is cloned (on its
// device) unless it owns its memory alone, so that disposing one handle frees
// memory no other handle or JS buffer shares. Non-float results become float32.
Napi::Object handle_to_js(Napi::Env env, at::Tensor t);

// A result: a handle when `resident`, else { data, shape } over host memory (tensor_to_js).
Napi::Value result_to_js(Napi::Env env, at::Tensor t, bool resident);

// Registers tensorToDevice, tensorToHost, tensorDispose, tensorShare,
// cudaMemoryStats and cudaEmptyCache (see lib/binding.ts).
void init_tensors(Napi::Env env, Napi::Object exports);

// Class indices: Int32Array | BigInt64Array (lib/ converts number[] first). A
// view for BigInt64Array, a widening copy for Int32Array.
at::Tensor indices_from_js(const Napi::Value& value, const char* name);

// A CPU result as { data, shape }: the typed array views an external
// ArrayBuffer that owns the tensor (freed by its finalizer after GC). A copy
// where the tensor does not own its memory alone or external buffers are refused.
Napi::Object tensor_to_js(Napi::Env env, at::Tensor tensor);

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
  explicit operator bool() const { return tensor.defined(); }
};
// An output of [rows, cols] (float32/float64), or an empty one where it would
// be larger than kJsOutputMaxBytes.
JsOutput js_output(Napi::Env env, int64_t rows, int64_t cols, at::ScalarType dtype);
// `result` as { data, shape }: over the JsOutput's buffer when native code
// computed into it, else as tensor_to_js makes it.
Napi::Object output_to_js(Napi::Env env, const JsOutput& out, const at::Tensor& result);

// { externalBuffers, finalizedBuffers, externalBytes, handles, freedHandles,
// handleBytes, hostHandleBytes }: process-wide counts of the external buffers
// made by tensor_to_js and of the native handles (made; freed by dispose or
// GC; bytes still held, on any device / in host memory), for leak tests.
Napi::Object memory_stats(Napi::Env env);

// Option readers: undefined -> fallback; a wrong type -> TypeError naming the option.
double get_number(const Napi::Object& o, const char* key, double fallback);
bool get_bool(const Napi::Object& o, const char* key, bool fallback);
std::string get_string(const Napi::Object& o, const char* key, const std::string& fallback);
Napi::Object get_options(const Napi::CallbackInfo& info, size_t index);

// Rethrows the current C++ exception as a JS error: pairloss::ArgumentError ->
// TypeError / RangeError, c10::Error -> Error with LibTorch's message (no backtrace).
[[noreturn]] void rethrow_as_js(Napi::Env env);

// An error message and the JS class it becomes, for worker threads that
// cannot touch JS values.
struct CapturedError {
  enum class Kind { None, Type, Range, Plain } kind = Kind::None;
  std::string message;
  void capture();  // from the current exception
  Napi::Error to_js(Napi::Env env) const;
};

// Settles a Promise with finish(env), or rejects it with the error finish
// throws. Never throws: an exception escaping from a completion callback
// terminates the process (as when a worker thread's environment is shutting
// down and every N-API call fails).
void settle_promise(Napi::Env env, Napi::Promise::Deferred& deferred,
                    const std::function<Napi::Value(Napi::Env)>& finish) noexcept;
// Rejects a Promise with a captured error; never throws (see settle_promise).
void reject_promise(Napi::Env env, Napi::Promise::Deferred& deferred, const CapturedError& error) noexcept;

// Wraps a binding function so that no C++ exception escapes to N-API raw.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(info.Env());
  }
}

}  // namespace pairloss_binding
