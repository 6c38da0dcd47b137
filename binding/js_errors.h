// The one place where C++ exceptions become JS errors.
#pragma once

#include <napi.h>

#include <string>

namespace pairloss_binding {

// A TypeError / RangeError with `message`.
[[noreturn]] void type_error(Napi::Env env, const std::string& message);
[[noreturn]] void range_error(Napi::Env env, const std::string& message);

// An error message and the JS class it becomes, for threads that cannot
// touch JS values: pairloss::ArgumentError -> TypeError / RangeError,
// c10::Error -> Error with LibTorch's message (no backtrace), anything else -> Error.
struct CapturedError {
  enum class Kind { None, Type, Range, Plain } kind = Kind::None;
  std::string message;
  explicit operator bool() const { return kind != Kind::None; }
  void capture();  // from the current exception
  Napi::Error to_js(Napi::Env env) const;
};

// Rethrows the current C++ exception as a JS error (see CapturedError).
[[noreturn]] void rethrow_as_js(Napi::Env env);

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
