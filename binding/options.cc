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

Napi::Value OptionReader::value(const char* key) {
  Napi::Value v = object_.Get(key);
  if (v.IsUndefined()) {
    throw Napi::Error::New(env(), std::string(function_) + " options: '" + key +
                                      "' is missing (lib/options.ts and the binding disagree on the keys)");
  }
  if (reads_ < kMaxKeys) read_[reads_] = key;
  ++reads_;
  return v;
}


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

}  // namespace pairloss_binding
