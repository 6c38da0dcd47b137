#include "js_errors.h"

#include <c10/util/Exception.h>

#include "errors.h"

namespace pairloss_binding {

void type_error(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

void range_error(Napi::Env env, const std::string& message) { throw Napi::RangeError::New(env, message); }

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

void rethrow_as_js(Napi::Env env) {
  CapturedError e;
  e.capture();
  throw e.to_js(env);
}

}  // namespace pairloss_binding
