// Field lists: each options object and each result of the native contract is
// one constexpr list of { key, member } in the contract's order, and that one
// list drives the reader (read_options), the echo the options test uses
// (fields_to_js) and, for results, the conversion to JS (binding/loss_call.h).
// Each list is static_assert'ed equal (names and order) to lib's key list of
// the same name in binding/generated/native_keys.h (same_keys), so that the
// two sides agree at compile time. The value of a key is converted by the
// member's type (from_js / to_js below): number, boolean, enum name, device,
// process group, tensor.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "generated/native_keys.h"
#include "ops.h"
#include "options.h"
#include "process_group.h"
#include "barlow_twins_options.h"
#include "npairs_options.h"
#include "triplet_margin.h"

namespace pairloss_binding {

// How a key may be absent. Options: every key is sent, and null is only a
// value where the member's type has one (a tensor, a group); kNullIsDefault
// lets null stand for the struct's default (processGroupConnect's cudaDevice).
// Results: kWithGradients fields are set only when the result has gradients
// (sigmoidLoss's gradScale and gradBias).
enum FieldFlags : unsigned { kPlain = 0, kNullIsDefault = 1, kWithGradients = 2 };

// One key and the member that holds it: a member of the struct read or
// written, or of its `options` (a loss's src options inside its LossArgs).
// `key` is a string literal (a C string for the messages).
template <typename Class, typename T>
struct Field {
  const char* key;
  T Class::*member;
  unsigned flags;
};

template <typename Class, typename T>
constexpr Field<Class, T> field(const char* key, T Class::*member, unsigned flags = kPlain) {
  return {key, member, flags};
}

// A field list: a tuple of fields, in the contract's order.
template <typename... F>
constexpr std::tuple<F...> fields(F... f) {
  return {f...};
}

// True when `list` names exactly `keys`, in that order (for static_assert).
template <typename List, size_t N>
constexpr bool same_keys(const List& list, const std::array<std::string_view, N>& keys) {
  if (std::tuple_size_v<List> != N) return false;
  return std::apply(
      [&](const auto&... f) {
        size_t i = 0;
        bool same = true;
        ((same = same && std::string_view(f.key) == keys[i++]), ...);
        return same;
      },
      list);
}

template <typename List, typename F>
void for_each_field(const List& list, F&& f) {
  std::apply([&](const auto&... x) { (f(x), ...); }, list);
}

// The member `f` names in `s`: s's own, or its options' (a loss's LossArgs).
template <typename S, typename C, typename T>
auto& member(S& s, const Field<C, T>& f) {
  if constexpr (std::is_base_of_v<C, std::remove_const_t<S>>) {
    return s.*(f.member);
  } else {
    return s.options.*(f.member);
  }
}

// ---------- one value, by the member's type ----------

// `v` (the value of option `key`, never undefined) into `out`: a TypeError
// naming the key for a wrong type, a RangeError for an unknown enum name.
void from_js(const Napi::Value& v, const char* key, double& out);
void from_js(const Napi::Value& v, const char* key, bool& out);
void from_js(const Napi::Value& v, const char* key, int& out);
void from_js(const Napi::Value& v, const char* key, int64_t& out);
void from_js(const Napi::Value& v, const char* key, std::string& out);
void from_js(const Napi::Value& v, const char* key, std::chrono::milliseconds& out);
void from_js(const Napi::Value& v, const char* key, at::Device& out);
void from_js(const Napi::Value& v, const char* key, pairloss::Reduction& out);
void from_js(const Napi::Value& v, const char* key, pairloss::Similarity& out);
void from_js(const Napi::Value& v, const char* key, pairloss::CorrelationMode& out);
void from_js(const Napi::Value& v, const char* key, pairloss::TripletMining& out);
void from_js(const Napi::Value& v, const char* key, pairloss::TripletDistance& out);
void from_js(const Napi::Value& v, const char* key, pairloss::Backend& out);
// a process group handle, or null for none
void from_js(const Napi::Value& v, const char* key, std::shared_ptr<pairloss::ProcessGroup>& out);
// kept as it is (null: none), read by the call (a product's `out`)
void from_js(const Napi::Value& v, const char* key, Napi::Value& out);
// A tensor option, not yet on the call's device (place_tensor_options):
// null -> undefined; a typed array -> class indices (int64, a copy);
// { data, shape } or a handle -> its tensor.
void from_js(const Napi::Value& v, const char* key, at::Tensor& out);

// The value as the echo writes it back: enums by name, a device as its
// string, a group as { rank, worldSize }, a tensor as { data, shape } (null: none).
Napi::Value to_js(Napi::Env env, double v);
Napi::Value to_js(Napi::Env env, bool v);
Napi::Value to_js(Napi::Env env, int v);
Napi::Value to_js(Napi::Env env, int64_t v);
Napi::Value to_js(Napi::Env env, const std::string& v);
Napi::Value to_js(Napi::Env env, std::chrono::milliseconds v);
Napi::Value to_js(Napi::Env env, const at::Device& v);
Napi::Value to_js(Napi::Env env, pairloss::Reduction v);
Napi::Value to_js(Napi::Env env, pairloss::Similarity v);
Napi::Value to_js(Napi::Env env, pairloss::CorrelationMode v);
Napi::Value to_js(Napi::Env env, pairloss::TripletMining v);
Napi::Value to_js(Napi::Env env, pairloss::TripletDistance v);
Napi::Value to_js(Napi::Env env, pairloss::Backend v);
Napi::Value to_js(Napi::Env env, const std::shared_ptr<pairloss::ProcessGroup>& v);
Napi::Value to_js(Napi::Env env, const Napi::Value& v);
Napi::Value to_js(Napi::Env env, const at::Tensor& v);

// ---------- a whole struct ----------

// Every field of `list` from the reader into `s`.
template <typename S, typename List>
void read_fields(OptionReader& o, S& s, const List& list) {
  for_each_field(list, [&](const auto& f) {
    const Napi::Value v = o.value(f.key);
    if ((f.flags & kNullIsDefault) && v.IsNull()) return;  // the struct's default
    from_js(v, f.key, member(s, f));
  });
}

// Native function `function`'s options object `value` as `S`: exactly the
// keys of `list` (a missing or a left-over key is an Error; see OptionReader).
template <typename S, typename List>
S read_options(const Napi::Value& value, const char* function, const List& list) {
  OptionReader o(value, function);
  S s{};
  read_fields(o, s, list);
  o.done();
  return s;
}

// `s` written back under the keys of `list` (the echo).
template <typename S, typename List>
Napi::Object fields_to_js(Napi::Env env, const S& s, const List& list) {
  Napi::Object out = Napi::Object::New(env);
  const S defaults{};
  for_each_field(list, [&](const auto& f) {
    const auto& v = member(s, f);
    using T = std::decay_t<decltype(v)>;
    if constexpr (std::is_arithmetic_v<T>) {
      if ((f.flags & kNullIsDefault) && v == member(defaults, f)) {
        out.Set(f.key, env.Null());
        return;
      }
    }
    out.Set(f.key, to_js(env, v));
  });
  return out;
}

}  // namespace pairloss_binding
