#include "options.h"

#include "js_errors.h"

namespace pairloss_binding {

namespace {

Napi::Object options_object(const Napi::Value& value) {
  if (!value.IsObject()) type_error(value.Env(), "options must be an object");
  return value.As<Napi::Object>();
}

}  // namespace

OptionReader::OptionReader(const Napi::Value& value, const char* function)
    : object_(options_object(value)), function_(function) {}

Napi::Value OptionReader::get(const char* key) {
  Napi::Value v = object_.Get(key);
  if (v.IsUndefined()) {
    throw Napi::Error::New(env(), std::string(function_) + " options: '" + key +
                                      "' is missing (lib/options.ts and the binding disagree on the keys)");
  }
  if (reads_ < kMaxKeys) read_[reads_] = key;
  ++reads_;
  return v;
}

double OptionReader::number(const char* key) {
  Napi::Value v = get(key);
  if (!v.IsNumber()) type_error(env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool OptionReader::boolean(const char* key) {
  Napi::Value v = get(key);
  if (!v.IsBoolean()) type_error(env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string OptionReader::string(const char* key) {
  Napi::Value v = get(key);
  if (!v.IsString()) type_error(env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Value OptionReader::value(const char* key) { return get(key); }

void OptionReader::done() const {
  // The own enumerable string keys: as many as were read, or some were not.
  napi_value names = nullptr;
  uint32_t count = 0;
  if (napi_get_all_property_names(env(), object_, napi_key_own_only,
                                  static_cast<napi_key_filter>(napi_key_enumerable | napi_key_skip_symbols),
                                  napi_key_numbers_to_strings, &names) != napi_ok ||
      napi_get_array_length(env(), names, &count) != napi_ok) {
    throw Napi::Error::New(env(), std::string(function_) + " options: could not list the keys");
  }
  if (count <= reads_) return;
  // The slow path, for the message: the keys that were not read.
  std::string unread;
  Napi::Array list(env(), names);
  for (uint32_t i = 0; i < count; ++i) {
    const std::string name = list.Get(i).ToString().Utf8Value();
    bool read = false;
    for (uint32_t k = 0; k < reads_ && k < kMaxKeys; ++k) read = read || name == read_[k];
    if (!read) unread += (unread.empty() ? "'" : ", '") + name + "'";
  }
  throw Napi::Error::New(env(), std::string(function_) + " options: the binding does not read " + unread +
                                    " (lib/options.ts and the binding disagree on the keys)");
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

}  // namespace pairloss_binding
