// _echoOptions(kind, options): the options of native function `kind` read by
// its field list as that function reads them (binding/call_options.h,
// binding/loss_specs.h), written back under the same keys by the same list.
// test/options.test.ts sends every key with a value other than its default
// and compares, so that a key renamed or misread on either side of the
// contract fails a test.
#include <string>

#include "call_options.h"
#include "exports.h"
#include "fields.h"
#include "js_errors.h"
#include "loss_specs.h"

namespace pairloss_binding {

namespace {

template <typename S, typename List>
Napi::Value echo(Napi::Env env, const Napi::Value& options, const char* kind, const List& list) {
  return fields_to_js(env, read_options<S>(options, kind, list), list);
}

}  // namespace

Napi::Value EchoOptions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) type_error(env, "kind must be a string");
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  const Napi::Value options = info[1];
  if (kind == "normalize") return echo<NormalizeOptions>(env, options, "normalize", kNormalizeOptions);
  if (kind == "matmul") return echo<MatmulOptions>(env, options, "matmul", kMatmulOptions);
  if (kind == "sparseMatmul") return echo<SparseMatmulOptions>(env, options, "sparseMatmul", kSparseMatmulOptions);
  if (kind == "csrIndexSelect") {
    return echo<CsrIndexSelectOptions>(env, options, "csrIndexSelect", kCsrIndexSelectOptions);
  }
  if (kind == "adam") return echo<AdamOptions>(env, options, "adam", kAdamOptions);
  if (kind == "crossEntropy") return echo<CrossEntropyOptions>(env, options, "crossEntropy", kCrossEntropyOptions);
  if (kind == "batchNorm1d") return echo<EpsOptions>(env, options, "batchNorm1d", kEpsOptions);
  if (kind == "cosineSimilarity") return echo<EpsOptions>(env, options, "cosineSimilarity", kEpsOptions);
  if (kind == "processGroupConnect") {
    return echo<ProcessGroupOptions>(env, options, "processGroupConnect", kConnectOptions);
  }
  Napi::Value out;
  if (Losses::echo(env, kind, options, out)) return out;
  range_error(env, "kind: no native function '" + kind + "' takes options");
}

}  // namespace pairloss_binding
