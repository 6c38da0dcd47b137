// Option objects from lib/. lib/options.ts holds the key list of every
// native function (NATIVE_OPTION_KEYS) and sends every key, checked, on
// every call (null where a value is absent); the binding reads exactly
// those keys and nothing else. A key missing or left over means the two
// sides disagree (a rename on one of them): an Error, never a default.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace pairloss_binding {

class OptionReader {
 public:
  // `value`, which must be an object: the options of native function `function` (for messages).
  OptionReader(const Napi::Value& value, const char* function);

  // The value of `key`, of the type named (a TypeError naming the key
  // otherwise); an Error when the key is missing (undefined).
  double number(const char* key);
  bool boolean(const char* key);
  std::string string(const char* key);
  // Any value but undefined: null stands for none.
  Napi::Value value(const char* key);

  // After the last read: an Error naming any key that was not read.
  void done() const;

  Napi::Env env() const { return object_.Env(); }

 private:
  static constexpr uint32_t kMaxKeys = 24;
  Napi::Value get(const char* key);
  Napi::Object object_;
  const char* function_;
  const char* read_[kMaxKeys] = {};  // the keys read, for done()'s message
  uint32_t reads_ = 0;
};

// The lenient readers of processGroupConnect's options (not yet on the key
// lists): undefined -> fallback; a wrong type -> TypeError naming the option.
double get_number(const Napi::Object& o, const char* key, double fallback);
bool get_bool(const Napi::Object& o, const char* key, bool fallback);
std::string get_string(const Napi::Object& o, const char* key, const std::string& fallback);
Napi::Object get_options(const Napi::CallbackInfo& info, size_t index);

}  // namespace pairloss_binding
