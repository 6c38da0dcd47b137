// The values of binding/fields.h's field lists, by the member's type.
#include "fields.h"

#include <string>

#include "group_calls.h"
#include "js_errors.h"
#include "marshal.h"
#include "runtime.h"

namespace pairloss_binding {

namespace {

// An enum's names, in the order the messages list them.
template <typename E>
struct EnumName {
  const char* name;
  E value;
};

constexpr EnumName<pairloss::Reduction> kReductions[] = {
    {"mean", pairloss::Reduction::Mean}, {"sum", pairloss::Reduction::Sum}, {"none", pairloss::Reduction::None}};
constexpr EnumName<pairloss::Similarity> kSimilarities[] = {{"cosine", pairloss::Similarity::Cosine},
                                                            {"dot", pairloss::Similarity::Dot}};
constexpr EnumName<pairloss::CorrelationMode> kModes[] = {{"samples", pairloss::CorrelationMode::Samples},
                                                          {"features", pairloss::CorrelationMode::Features}};
constexpr EnumName<pairloss::TripletMining> kMinings[] = {{"batch-hard", pairloss::TripletMining::BatchHard},
                                                          {"all", pairloss::TripletMining::All}};
constexpr EnumName<pairloss::TripletDistance> kDistances[] = {{"euclidean", pairloss::TripletDistance::Euclidean},
                                                              {"cosine", pairloss::TripletDistance::Cosine}};
constexpr EnumName<pairloss::Backend> kBackends[] = {{"gloo", pairloss::Backend::Gloo},
                                                     {"nccl", pairloss::Backend::Nccl}};

std::string string_of(const Napi::Value& v, const char* key) {
  if (!v.IsString()) type_error(v.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

double number_of(const Napi::Value& v, const char* key) {
  if (!v.IsNumber()) type_error(v.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// "<key> must be 'a', 'b' or 'c', got 'x'" for a name not in `names`.
template <typename E, size_t N>
void enum_from_js(const Napi::Value& v, const char* key, const EnumName<E> (&names)[N], E& out) {
  const std::string s = string_of(v, key);
  std::string expected;
  for (size_t i = 0; i < N; ++i) {
    if (s == names[i].name) {
      out = names[i].value;
      return;
    }
    expected += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + "'" + names[i].name + "'";
  }
  range_error(v.Env(), std::string(key) + " must be " + expected + ", got '" + s + "'");
}

template <typename E, size_t N>
Napi::Value enum_to_js(Napi::Env env, const EnumName<E> (&names)[N], E value) {
  for (const EnumName<E>& n : names) {
    if (n.value == value) return Napi::String::New(env, n.name);
  }
  return env.Null();
}

}  // namespace

void from_js(const Napi::Value& v, const char* key, double& out) { out = number_of(v, key); }

void from_js(const Napi::Value& v, const char* key, bool& out) {
  if (!v.IsBoolean()) type_error(v.Env(), std::string(key) + " must be a boolean");
  out = v.As<Napi::Boolean>().Value();
}

void from_js(const Napi::Value& v, const char* key, int& out) { out = static_cast<int>(number_of(v, key)); }

void from_js(const Napi::Value& v, const char* key, int64_t& out) { out = static_cast<int64_t>(number_of(v, key)); }

void from_js(const Napi::Value& v, const char* key, std::string& out) { out = string_of(v, key); }

void from_js(const Napi::Value& v, const char* key, std::chrono::milliseconds& out) {
  out = std::chrono::milliseconds(static_cast<int64_t>(number_of(v, key)));
}

void from_js(const Napi::Value& v, const char* key, at::Device& out) {
  out = pairloss::parse_device(string_of(v, key), key);
}

void from_js(const Napi::Value& v, const char* key, pairloss::Reduction& out) { enum_from_js(v, key, kReductions, out); }
void from_js(const Napi::Value& v, const char* key, pairloss::Similarity& out) { enum_from_js(v, key, kSimilarities, out); }
void from_js(const Napi::Value& v, const char* key, pairloss::CorrelationMode& out) { enum_from_js(v, key, kModes, out); }
void from_js(const Napi::Value& v, const char* key, pairloss::TripletMining& out) { enum_from_js(v, key, kMinings, out); }
void from_js(const Napi::Value& v, const char* key, pairloss::TripletDistance& out) { enum_from_js(v, key, kDistances, out); }
void from_js(const Napi::Value& v, const char* key, pairloss::Backend& out) { enum_from_js(v, key, kBackends, out); }

void from_js(const Napi::Value& v, const char* key, std::shared_ptr<pairloss::ProcessGroup>& out) {
  out = v.IsNull() ? nullptr : process_group_from_js(v, key);
}

void from_js(const Napi::Value& v, const char*, Napi::Value& out) { out = v; }

void from_js(const Napi::Value& v, const char* key, at::Tensor& out) {
  if (v.IsNull()) {
    out = at::Tensor();
  } else if (v.IsTypedArray()) {
    out = indices_from_js(v, key);  // a view of a BigInt64Array's copy, or a widened copy of an Int32Array
  } else {
    out = tensor_from_js(v, key);
  }
}

Napi::Value to_js(Napi::Env env, double v) { return Napi::Number::New(env, v); }
Napi::Value to_js(Napi::Env env, bool v) { return Napi::Boolean::New(env, v); }
Napi::Value to_js(Napi::Env env, int v) { return Napi::Number::New(env, v); }
Napi::Value to_js(Napi::Env env, int64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }
Napi::Value to_js(Napi::Env env, const std::string& v) { return Napi::String::New(env, v); }
Napi::Value to_js(Napi::Env env, std::chrono::milliseconds v) {
  return Napi::Number::New(env, static_cast<double>(v.count()));
}
Napi::Value to_js(Napi::Env env, const at::Device& v) { return Napi::String::New(env, v.str()); }
Napi::Value to_js(Napi::Env env, pairloss::Reduction v) { return enum_to_js(env, kReductions, v); }
Napi::Value to_js(Napi::Env env, pairloss::Similarity v) { return enum_to_js(env, kSimilarities, v); }
Napi::Value to_js(Napi::Env env, pairloss::CorrelationMode v) { return enum_to_js(env, kModes, v); }
Napi::Value to_js(Napi::Env env, pairloss::TripletMining v) { return enum_to_js(env, kMinings, v); }
Napi::Value to_js(Napi::Env env, pairloss::TripletDistance v) { return enum_to_js(env, kDistances, v); }
Napi::Value to_js(Napi::Env env, pairloss::Backend v) { return enum_to_js(env, kBackends, v); }

Napi::Value to_js(Napi::Env env, const std::shared_ptr<pairloss::ProcessGroup>& v) {
  if (!v) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("rank", v->rank());
  out.Set("worldSize", v->world_size());
  return out;
}

Napi::Value to_js(Napi::Env env, const Napi::Value& v) {
  if (v.IsNull() || v.IsExternal()) return v;  // none, or csrIndexSelect's out (a CsrTensor's External) as it came
  return Napi::Value(tensor_to_js(env, tensor_from_js(v, "out")));
}

Napi::Value to_js(Napi::Env env, const at::Tensor& v) {
  return v.defined() ? Napi::Value(tensor_to_js(env, v)) : env.Null();
}

}  // namespace pairloss_binding
