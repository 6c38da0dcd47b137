// Option objects from lib/. lib/options.ts holds the key list of every
// native function (NATIVE_OPTION_KEYS) and sends every key, checked, on
// every call (null where a value is absent); the binding reads exactly
// those keys and nothing else (its field lists, binding/fields.h). A key
// missing or left over means the two sides disagree (a rename on one of
// them): an Error, never a default.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace pairloss_binding {

class OptionReader {
 public:
  // `value`, which must be an object: the options of native function `function` (for messages).
  OptionReader(const Napi::Value& value, const char* function);

  // The value of `key`: any value but undefined (null stands for none); an
  // Error when the key is missing (undefined). Each key is read once.
  Napi::Value value(const char* key);

  // After the last read: an Error naming any key that was not read.
  void done() const;

  Napi::Env env() const { return object_.Env(); }

 private:
  static constexpr uint32_t kMaxKeys = 24;
  Napi::Object object_;
  const char* function_;
  const char* read_[kMaxKeys] = {};  // the keys read, for done()'s message
  uint32_t reads_ = 0;
};

}  // namespace pairloss_binding
