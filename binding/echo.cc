// _echoOptions(kind, options): the options of native function `kind` read as
// that function reads them (binding/call_options.h), written back under the
// same keys. test/options.test.ts sends every key with a value other than
// its default and compares, so that a key renamed or misread on either side
// of the contract fails a test.
#include <string>

#include "call_options.h"
#include "exports.h"
#include "js_errors.h"
#include "marshal.h"
#include "process_group.h"

namespace pairloss_binding {

namespace {

const char* reduction_name(pairloss::Reduction r) {
  switch (r) {
    case pairloss::Reduction::Mean: return "mean";
    case pairloss::Reduction::Sum: return "sum";
    default: return "none";
  }
}

Napi::Value tensor_or_null(Napi::Env env, const at::Tensor& t) {
  return t.defined() ? Napi::Value(tensor_to_js(env, t)) : env.Null();
}

// A loss's `out` as read: null, or { grad1, grad2 } with each tensor (or null).
Napi::Value grad_out_or_null(Napi::Env env, const GradOut& g) {
  if (!g.t1.defined() && !g.t2.defined()) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("grad1", tensor_or_null(env, g.t1));
  out.Set("grad2", tensor_or_null(env, g.t2));
  return out;
}

Napi::Value group_or_null(Napi::Env env, const std::shared_ptr<pairloss::ProcessGroup>& g) {
  if (!g) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("rank", g->rank());
  out.Set("worldSize", g->world_size());
  return out;
}

}  // namespace

Napi::Value EchoOptions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) type_error(env, "kind must be a string");
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  Napi::Object out = Napi::Object::New(env);
  if (kind == "normalize") {
    const NormalizeOptions o = read_normalize_options(info[1]);
    out.Set("p", o.p);
    out.Set("dim", static_cast<double>(o.dim));
    out.Set("eps", o.eps);
    out.Set("device", o.device.str());
  } else if (kind == "matmul") {
    const MatmulOptions o = read_matmul_options(info[1]);
    out.Set("transposeA", o.transpose_a);
    out.Set("transposeB", o.transpose_b);
    out.Set("out", o.out.IsNull() ? env.Null() : Napi::Value(tensor_to_js(env, tensor_from_js(o.out, "out"))));
    out.Set("device", o.device.str());
  } else if (kind == "sparseMatmul") {
    const SparseMatmulOptions o = read_sparse_matmul_options(info[1]);
    out.Set("transposeA", o.transpose_a);
    out.Set("out", o.out.IsNull() ? env.Null() : Napi::Value(tensor_to_js(env, tensor_from_js(o.out, "out"))));
  } else if (kind == "adam") {
    const pairloss::AdamOptions o = read_adam_options(info[1]);
    out.Set("step", static_cast<double>(o.step));
    out.Set("lr", o.lr);
    out.Set("beta1", o.beta1);
    out.Set("beta2", o.beta2);
    out.Set("eps", o.eps);
    out.Set("weightDecay", o.weight_decay);
    out.Set("decoupledWeightDecay", o.decoupled_weight_decay);
    out.Set("amsgrad", o.amsgrad);
    out.Set("maximize", o.maximize);
  } else if (kind == "crossEntropy") {
    const CrossEntropyOptions o = read_cross_entropy_options(info[1]);
    out.Set("reduction", reduction_name(o.reduction));
    out.Set("labelSmoothing", o.label_smoothing);
    out.Set("device", o.device.str());
  } else if (kind == "batchNorm1d" || kind == "cosineSimilarity") {
    const EpsOptions o = read_eps_options(info[1], kind.c_str());
    out.Set("eps", o.eps);
    out.Set("device", o.device.str());
  } else if (kind == "npairsLoss") {
    const NpairsArgs a = read_npairs_options(info[1], false);
    const pairloss::NpairsOptions& o = a.options;
    out.Set("target", tensor_or_null(env, o.target));
    out.Set("temperature", o.temperature);
    out.Set("symmetric", o.symmetric);
    out.Set("labelSmoothing", o.label_smoothing);
    out.Set("reduction", reduction_name(o.reduction));
    out.Set("similarity", o.similarity == pairloss::Similarity::Dot ? "dot" : "cosine");
    out.Set("l2Reg", o.l2_reg);
    out.Set("eps", o.eps);
    out.Set("grad", o.grad);
    out.Set("returnSimilarity", o.return_similarity);
    out.Set("checkFinite", o.check_finite);
    out.Set("device", a.device.str());
    out.Set("group", group_or_null(env, o.group));
    out.Set("localLoss", o.local_loss);
    out.Set("gatherWithGrad", o.gather_with_grad);
    out.Set("labels", tensor_or_null(env, o.labels));
    out.Set("excludeSelf", o.exclude_self);
    out.Set("out", grad_out_or_null(env, a.out));
  } else if (kind == "sigmoidLoss") {
    const SigmoidArgs a = read_sigmoid_options(info[1], false);
    const pairloss::SigmoidOptions& o = a.options;
    out.Set("scale", o.scale);
    out.Set("bias", o.bias);
    out.Set("target", tensor_or_null(env, o.target));
    out.Set("eps", o.eps);
    out.Set("grad", o.grad);
    out.Set("checkFinite", o.check_finite);
    out.Set("device", a.device.str());
    out.Set("group", group_or_null(env, o.group));
    out.Set("out", grad_out_or_null(env, a.out));
  } else if (kind == "vicregLoss") {
    const VicregArgs a = read_vicreg_options(info[1]);
    const pairloss::VicregOptions& o = a.options;
    out.Set("invarianceWeight", o.invariance_weight);
    out.Set("varianceWeight", o.variance_weight);
    out.Set("covarianceWeight", o.covariance_weight);
    out.Set("gamma", o.gamma);
    out.Set("eps", o.eps);
    out.Set("grad", o.grad);
    out.Set("checkFinite", o.check_finite);
    out.Set("device", a.device.str());
    out.Set("group", group_or_null(env, o.group));
    out.Set("out", grad_out_or_null(env, a.out));
  } else if (kind == "ntXentLoss") {
    const NtXentArgs a = read_nt_xent_options(info[1], false);
    const pairloss::NtXentOptions& o = a.options;
    out.Set("temperature", o.temperature);
    out.Set("eps", o.eps);
    out.Set("negatives", tensor_or_null(env, o.negatives));
    out.Set("grad", o.grad);
    out.Set("checkFinite", o.check_finite);
    out.Set("device", a.device.str());
    out.Set("group", group_or_null(env, o.group));
    out.Set("out", grad_out_or_null(env, a.out));
  } else if (kind == "correlationLoss") {
    const CorrelationArgs a = read_correlation_options(info[1]);
    const pairloss::CorrelationOptions& o = a.options;
    out.Set("lambda", o.lambda);
    out.Set("scale", o.scale);
    out.Set("eps", o.eps);
    out.Set("mode", o.mode == pairloss::CorrelationMode::Features ? "features" : "samples");
    out.Set("grad", o.grad);
    out.Set("checkFinite", o.check_finite);
    out.Set("device", a.device.str());
    out.Set("group", group_or_null(env, o.group));
    out.Set("syncBatchNorm", o.sync_batch_norm);
    out.Set("out", grad_out_or_null(env, a.out));
  } else {
    range_error(env, "kind: no native function '" + kind + "' takes options");
  }
  return out;
}

}  // namespace pairloss_binding
