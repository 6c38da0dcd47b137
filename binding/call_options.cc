#include "call_options.h"

#include <string>

#include "device.h"
#include "group_calls.h"
#include "handles.h"
#include "marshal.h"
#include "options.h"
#include "runtime.h"

namespace pairloss_binding {

namespace {

at::Device read_device(OptionReader& o) { return pairloss::parse_device(o.string("device")); }

// The `group` option: a process group handle, or null for none.
std::shared_ptr<pairloss::ProcessGroup> read_group(OptionReader& o) {
  Napi::Value g = o.value("group");
  return g.IsNull() ? nullptr : process_group_from_js(g, "group");
}

}  // namespace

GradOut read_grad_out(OptionReader& o) {
  GradOut out;
  const Napi::Value v = o.value("out");
  out.grad1 = out.grad2 = o.env().Null();
  if (v.IsNull()) return out;
  const Napi::Object obj = v.As<Napi::Object>();
  out.grad1 = obj.Get("grad1");
  out.grad2 = obj.Get("grad2");
  if (!out.grad1.IsNull()) out.t1 = tensor_from_js(out.grad1, "out.grad1");
  if (!out.grad2.IsNull()) out.t2 = tensor_from_js(out.grad2, "out.grad2");
  return out;
}

at::Tensor placed(const Napi::Value& value, at::Tensor t, const at::Device& device, bool copy) {
  if (t.device() != device) return pairloss::to_device(t, device);
  return copy && !is_handle(value) ? t.clone() : t;
}

NormalizeOptions read_normalize_options(const Napi::Value& value) {
  OptionReader o(value, "normalize");
  NormalizeOptions opt;
  opt.p = o.number("p");
  opt.dim = static_cast<int64_t>(o.number("dim"));
  opt.eps = o.number("eps");
  opt.device = read_device(o);
  o.done();
  return opt;
}

MatmulOptions read_matmul_options(const Napi::Value& value) {
  OptionReader o(value, "matmul");
  MatmulOptions opt;
  opt.transpose_a = o.boolean("transposeA");
  opt.transpose_b = o.boolean("transposeB");
  opt.out = o.value("out");
  opt.device = read_device(o);
  o.done();
  return opt;
}

SparseMatmulOptions read_sparse_matmul_options(const Napi::Value& value) {
  OptionReader o(value, "sparseMatmul");
  SparseMatmulOptions opt;
  opt.transpose_a = o.boolean("transposeA");
  opt.out = o.value("out");
  o.done();
  return opt;
}

pairloss::AdamOptions read_adam_options(const Napi::Value& value) {
  OptionReader o(value, "adam");
  pairloss::AdamOptions opt;
  opt.step = static_cast<int64_t>(o.number("step"));
  opt.lr = o.number("lr");
  opt.beta1 = o.number("beta1");
  opt.beta2 = o.number("beta2");
  opt.eps = o.number("eps");
  opt.weight_decay = o.number("weightDecay");
  opt.decoupled_weight_decay = o.boolean("decoupledWeightDecay");
  opt.amsgrad = o.boolean("amsgrad");
  opt.maximize = o.boolean("maximize");
  o.done();
  return opt;
}

CrossEntropyOptions read_cross_entropy_options(const Napi::Value& value) {
  OptionReader o(value, "crossEntropy");
  CrossEntropyOptions opt;
  opt.reduction = pairloss::parse_reduction(o.string("reduction"));
  opt.label_smoothing = o.number("labelSmoothing");
  opt.device = read_device(o);
  o.done();
  return opt;
}

EpsOptions read_eps_options(const Napi::Value& value, const char* function) {
  OptionReader o(value, function);
  EpsOptions opt;
  opt.eps = o.number("eps");
  opt.device = read_device(o);
  o.done();
  return opt;
}

NpairsArgs read_npairs_options(const Napi::Value& value, bool copy) {
  OptionReader o(value, "npairsLoss");
  NpairsArgs args;
  pairloss::NpairsOptions& opt = args.options;
  opt.temperature = o.number("temperature");
  opt.symmetric = o.boolean("symmetric");
  opt.label_smoothing = o.number("labelSmoothing");
  opt.reduction = pairloss::parse_reduction(o.string("reduction"));
  const std::string similarity = o.string("similarity");
  if (similarity == "cosine") {
    opt.similarity = pairloss::Similarity::Cosine;
  } else if (similarity == "dot") {
    opt.similarity = pairloss::Similarity::Dot;
  } else {
    throw Napi::RangeError::New(o.env(), "similarity must be 'cosine' or 'dot', got '" + similarity + "'");
  }
  opt.l2_reg = o.number("l2Reg");
  opt.eps = o.number("eps");
  opt.grad = o.boolean("grad");
  opt.return_similarity = o.boolean("returnSimilarity");
  opt.check_finite = o.boolean("checkFinite");
  args.device = read_device(o);
  opt.group = read_group(o);
  opt.local_loss = o.boolean("localLoss");
  opt.gather_with_grad = o.boolean("gatherWithGrad");
  args.target = o.value("target");
  if (args.target.IsTypedArray()) {
    // a view of a BigInt64Array, or a widened copy of an Int32Array
    opt.target = indices_from_js(args.target, "target");
    if (opt.target.device() != args.device) {
      opt.target = pairloss::to_device(opt.target, args.device);
    } else if (copy) {
      opt.target = opt.target.clone();
    }
  } else if (!args.target.IsNull()) {
    opt.target = placed(args.target, tensor_from_js(args.target, "target"), args.device, copy);
  }
  const Napi::Value labels = o.value("labels");
  if (!labels.IsNull()) {
    // int64 on the call's device, owned by the call (a widened copy or a clone)
    opt.labels = indices_from_js(labels, "labels");
    opt.labels = opt.labels.device() != args.device ? pairloss::to_device(opt.labels, args.device) : opt.labels.clone();
  }
  opt.exclude_self = o.boolean("excludeSelf");
  args.out = read_grad_out(o);
  o.done();
  return args;
}

SigmoidArgs read_sigmoid_options(const Napi::Value& value, bool copy) {
  OptionReader o(value, "sigmoidLoss");
  SigmoidArgs args;
  pairloss::SigmoidOptions& opt = args.options;
  opt.scale = o.number("scale");
  opt.bias = o.number("bias");
  opt.eps = o.number("eps");
  opt.grad = o.boolean("grad");
  opt.check_finite = o.boolean("checkFinite");
  args.device = read_device(o);
  opt.group = read_group(o);
  args.target = o.value("target");
  if (!args.target.IsNull()) opt.target = placed(args.target, tensor_from_js(args.target, "target"), args.device, copy);
  args.out = read_grad_out(o);
  o.done();
  return args;
}

VicregArgs read_vicreg_options(const Napi::Value& value) {
  OptionReader o(value, "vicregLoss");
  VicregArgs args;
  pairloss::VicregOptions& opt = args.options;
  opt.invariance_weight = o.number("invarianceWeight");
  opt.variance_weight = o.number("varianceWeight");
  opt.covariance_weight = o.number("covarianceWeight");
  opt.gamma = o.number("gamma");
  opt.eps = o.number("eps");
  opt.grad = o.boolean("grad");
  opt.check_finite = o.boolean("checkFinite");
  args.device = read_device(o);
  opt.group = read_group(o);
  args.out = read_grad_out(o);
  o.done();
  return args;
}

NtXentArgs read_nt_xent_options(const Napi::Value& value, bool copy) {
  OptionReader o(value, "ntXentLoss");
  NtXentArgs args;
  pairloss::NtXentOptions& opt = args.options;
  opt.temperature = o.number("temperature");
  opt.eps = o.number("eps");
  opt.grad = o.boolean("grad");
  opt.check_finite = o.boolean("checkFinite");
  args.device = read_device(o);
  opt.group = read_group(o);
  args.negatives = o.value("negatives");
  if (!args.negatives.IsNull()) {
    opt.negatives = placed(args.negatives, tensor_from_js(args.negatives, "negatives"), args.device, copy);
  }
  args.out = read_grad_out(o);
  o.done();
  return args;
}

CorrelationArgs read_correlation_options(const Napi::Value& value) {
  OptionReader o(value, "correlationLoss");
  CorrelationArgs args;
  pairloss::CorrelationOptions& opt = args.options;
  opt.lambda = o.number("lambda");
  opt.scale = o.number("scale");
  opt.eps = o.number("eps");
  const std::string mode = o.string("mode");
  if (mode == "samples") {
    opt.mode = pairloss::CorrelationMode::Samples;
  } else if (mode == "features") {
    opt.mode = pairloss::CorrelationMode::Features;
  } else {
    throw Napi::RangeError::New(o.env(), "mode must be 'samples' or 'features', got '" + mode + "'");
  }
  opt.grad = o.boolean("grad");
  opt.check_finite = o.boolean("checkFinite");
  args.device = read_device(o);
  opt.group = read_group(o);
  opt.sync_batch_norm = o.boolean("syncBatchNorm");
  args.out = read_grad_out(o);
  o.done();
  return args;
}

}  // namespace pairloss_binding
