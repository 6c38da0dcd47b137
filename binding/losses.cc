// npairsLoss / correlationLoss: sync on the JS thread, or async on the pool
// (under a process group: queued to the group's thread, in call order).
#include <memory>

#include "common.h"
#include "losses.h"
#include "runtime.h"
#include "worker.h"

namespace pairloss_binding {

// binding/process_group.cc
std::shared_ptr<pairloss::ProcessGroup> process_group_from_js(const Napi::Value& value, const char* name);
Napi::Promise start_group_call(Napi::Env env, const std::shared_ptr<pairloss::ProcessGroup>& group,
                               std::function<void()> work, std::function<Napi::Value(Napi::Env)> finish);

namespace {

// The `group` option: a process group handle (lib/ passes ProcessGroup's), or none.
std::shared_ptr<pairloss::ProcessGroup> read_group(const Napi::Object& o) {
  Napi::Value g = o.Get("group");
  if (g.IsUndefined() || g.IsNull()) return nullptr;
  return process_group_from_js(g, "group");
}

using pairloss::CorrelationOptions;
using pairloss::CorrelationResult;
using pairloss::NpairsOptions;
using pairloss::NpairsResult;

struct Inputs {
  at::Tensor a, b;
  at::Device device = at::kCPU;
};

// Reads the two input tensors and the device; async calls take copies so that
// the computation owns what it reads.
Inputs read_inputs(const Napi::CallbackInfo& info, const Napi::Object& opts, const char* name_a,
                   const char* name_b, bool copy) {
  Inputs in;
  in.a = tensor_from_js(info[0], name_a);
  in.b = tensor_from_js(info[1], name_b);
  in.device = pairloss::parse_device(get_string(opts, "device", "cpu"));
  if (in.device.type() != at::kCPU) {
    in.a = in.a.to(in.device);
    in.b = in.b.to(in.device);
  } else if (copy) {
    in.a = in.a.clone();
    in.b = in.b.clone();
  }
  return in;
}

NpairsOptions read_npairs_options(const Napi::Object& o, bool copy) {
  NpairsOptions opt;
  opt.temperature = get_number(o, "temperature", opt.temperature);
  opt.symmetric = get_bool(o, "symmetric", opt.symmetric);
  opt.label_smoothing = get_number(o, "labelSmoothing", opt.label_smoothing);
  opt.reduction = pairloss::parse_reduction(get_string(o, "reduction", "mean"));
  const std::string similarity = get_string(o, "similarity", "cosine");
  if (similarity == "cosine") {
    opt.similarity = pairloss::Similarity::Cosine;
  } else if (similarity == "dot") {
    opt.similarity = pairloss::Similarity::Dot;
  } else {
    throw Napi::RangeError::New(o.Env(), "similarity must be 'cosine' or 'dot', got '" + similarity + "'");
  }
  opt.l2_reg = get_number(o, "l2Reg", opt.l2_reg);
  opt.eps = get_number(o, "eps", opt.eps);
  opt.grad = get_bool(o, "grad", opt.grad);
  opt.return_similarity = get_bool(o, "returnSimilarity", opt.return_similarity);
  opt.check_finite = get_bool(o, "checkFinite", opt.check_finite);
  opt.group = read_group(o);
  opt.local_loss = get_bool(o, "localLoss", opt.local_loss);
  opt.gather_with_grad = get_bool(o, "gatherWithGrad", opt.gather_with_grad);
  Napi::Value target = o.Get("target");
  if (target.IsTypedArray()) {
    opt.target = indices_from_js(target, "target");
  } else if (target.IsObject()) {
    opt.target = tensor_from_js(target, "target");
  } else if (!target.IsUndefined()) {
    throw Napi::TypeError::New(o.Env(), "target must be class indices or a probability tensor");
  }
  if (copy && opt.target.defined()) opt.target = opt.target.clone();
  return opt;
}

CorrelationOptions read_correlation_options(const Napi::Object& o) {
  CorrelationOptions opt;
  opt.lambda = get_number(o, "lambda", opt.lambda);
  opt.scale = get_number(o, "scale", opt.scale);
  opt.eps = get_number(o, "eps", opt.eps);
  opt.grad = get_bool(o, "grad", opt.grad);
  opt.check_finite = get_bool(o, "checkFinite", opt.check_finite);
  opt.group = read_group(o);
  opt.sync_batch_norm = get_bool(o, "syncBatchNorm", opt.sync_batch_norm);
  const std::string mode = get_string(o, "mode", "samples");
  if (mode == "samples") {
    opt.mode = pairloss::CorrelationMode::Samples;
  } else if (mode == "features") {
    opt.mode = pairloss::CorrelationMode::Features;
  } else {
    throw Napi::RangeError::New(o.Env(), "mode must be 'samples' or 'features', got '" + mode + "'");
  }
  return opt;
}

Napi::Value npairs_to_js(Napi::Env env, const NpairsResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, r.loss));
  if (r.grad1.defined()) out.Set("grad1", tensor_to_js(env, r.grad1));
  if (r.grad2.defined()) out.Set("grad2", tensor_to_js(env, r.grad2));
  if (r.grad_temperature) out.Set("gradTemperature", Napi::Number::New(env, *r.grad_temperature));
  if (r.similarity.defined()) out.Set("similarity", tensor_to_js(env, r.similarity));
  return out;
}

Napi::Value correlation_to_js(Napi::Env env, const CorrelationResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, r.loss));
  out.Set("onDiagonal", Napi::Number::New(env, r.on_diagonal));
  out.Set("offDiagonal", Napi::Number::New(env, r.off_diagonal));
  if (r.grad1.defined()) out.Set("grad1", tensor_to_js(env, r.grad1));
  if (r.grad2.defined()) out.Set("grad2", tensor_to_js(env, r.grad2));
  return out;
}

// npairsLoss(x1, x2, options, async)
Napi::Value NpairsLoss(const Napi::CallbackInfo& info) {
  Napi::Object o = get_options(info, 2);
  const bool async = info.Length() > 3 && info[3].ToBoolean().Value();
  Inputs in = read_inputs(info, o, "x1", "x2", async);
  NpairsOptions opt = read_npairs_options(o, async);
  if (opt.target.defined() && in.device.type() != at::kCPU) opt.target = opt.target.to(in.device);
  if (!async) return npairs_to_js(info.Env(), pairloss::npairs_loss(in.a, in.b, opt));
  auto result = std::make_shared<NpairsResult>();
  if (opt.group) {
    // queued to the group's thread, in call order with the group's other calls
    return start_group_call(
        info.Env(), opt.group, [in, opt, result] { *result = pairloss::npairs_loss(in.a, in.b, opt); },
        [result](Napi::Env env) { return npairs_to_js(env, *result); });
  }
  return PromiseWorker::Start(
      info.Env(), [in, opt, result] { *result = pairloss::npairs_loss(in.a, in.b, opt); },
      [result](Napi::Env env) { return npairs_to_js(env, *result); });
}

// correlationLoss(z1, z2, options, async)
Napi::Value CorrelationLoss(const Napi::CallbackInfo& info) {
  Napi::Object o = get_options(info, 2);
  const bool async = info.Length() > 3 && info[3].ToBoolean().Value();
  Inputs in = read_inputs(info, o, "z1", "z2", async);
  CorrelationOptions opt = read_correlation_options(o);
  if (!async) return correlation_to_js(info.Env(), pairloss::correlation_loss(in.a, in.b, opt));
  auto result = std::make_shared<CorrelationResult>();
  if (opt.group) {
    return start_group_call(
        info.Env(), opt.group, [in, opt, result] { *result = pairloss::correlation_loss(in.a, in.b, opt); },
        [result](Napi::Env env) { return correlation_to_js(env, *result); });
  }
  return PromiseWorker::Start(
      info.Env(), [in, opt, result] { *result = pairloss::correlation_loss(in.a, in.b, opt); },
      [result](Napi::Env env) { return correlation_to_js(env, *result); });
}

}  // namespace

void init_losses(Napi::Env env, Napi::Object exports) {
  exports.Set("npairsLoss", Napi::Function::New<guarded<NpairsLoss>>(env, "npairsLoss"));
  exports.Set("correlationLoss", Napi::Function::New<guarded<CorrelationLoss>>(env, "correlationLoss"));
}

}  // namespace pairloss_binding
