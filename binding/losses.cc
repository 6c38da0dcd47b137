// npairsLoss / correlationLoss: sync on the JS thread, or async on the pool
// (under a process group: queued to the group's thread, in call order).
// Inputs are typed-array views or native handles; on CUDA the results stay on
// the device as handles, and async calls wait for the device's stream on the
// thread that computed them.
#include <memory>

#include "affine.h"
#include "common.h"
#include "device.h"
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
  // Results go back as handles (see results_resident).
  bool resident = false;
};

// `value` as a tensor on `device`. Async calls (`copy`) own what they read: a
// view over a typed array is copied (JS may write to it later); a handle's
// tensor is not (JS cannot write to it, and the alias keeps it alive even if
// the handle is disposed while the call runs).
at::Tensor placed(const Napi::Value& value, at::Tensor t, const at::Device& device, bool copy) {
  if (t.device() != device) return pairloss::to_device(t, device);
  return copy && !is_handle(value) ? t.clone() : t;
}

// Reads the two input tensors and the device.
Inputs read_inputs(const Napi::CallbackInfo& info, const Napi::Object& opts, const char* name_a,
                   const char* name_b, bool copy) {
  Inputs in;
  in.a = tensor_from_js(info[0], name_a);
  in.b = tensor_from_js(info[1], name_b);
  in.device = pairloss::parse_device(get_string(opts, "device", "cpu"));
  in.a = placed(info[0], in.a, in.device, copy);
  in.b = placed(info[1], in.b, in.device, copy);
  in.resident = results_resident(in.device, {info[0], info[1], opts.Get("target")});
  return in;
}

NpairsOptions read_npairs_options(const Napi::Object& o, const at::Device& device, bool copy) {
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
    // indices_from_js: a view of an Int64Array, or a widened copy of an Int32Array
    opt.target = indices_from_js(target, "target");
    if (opt.target.device() != device) {
      opt.target = pairloss::to_device(opt.target, device);
    } else if (copy) {
      opt.target = opt.target.clone();
    }
  } else if (target.IsObject()) {
    opt.target = placed(target, tensor_from_js(target, "target"), device, copy);
  } else if (!target.IsUndefined()) {
    throw Napi::TypeError::New(o.Env(), "target must be class indices or a probability tensor");
  }
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

// Memory for the two gradients that JS will own (see JsOutput), where the
// fused CPU path can compute into it: host results of a call without a group.
struct Outputs {
  JsOutput grad1, grad2;
  Napi::Value to_js(Napi::Env env, const JsOutput& out, const at::Tensor& t, bool resident) const {
    return resident ? result_to_js(env, t, true) : Napi::Value(output_to_js(env, out, t));
  }
};

Outputs gradient_outputs(Napi::Env env, const Inputs& in, bool grad, bool group) {
  Outputs o;
  if (!grad || group || in.resident || !in.device.is_cpu() || in.a.dim() != 2 || in.b.dim() != 2 ||
      in.a.scalar_type() != in.b.scalar_type() || in.a.size(1) != in.b.size(1)) {
    return o;
  }
  o.grad1 = js_output(env, in.a.size(0), in.a.size(1), in.a.scalar_type());
  o.grad2 = js_output(env, in.b.size(0), in.b.size(1), in.b.scalar_type());
  return o;
}

Napi::Value npairs_to_js(Napi::Env env, const NpairsResult& r, bool resident, const Outputs& outs = {}) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, r.loss));
  if (r.grad1.defined()) out.Set("grad1", outs.to_js(env, outs.grad1, r.grad1, resident));
  if (r.grad2.defined()) out.Set("grad2", outs.to_js(env, outs.grad2, r.grad2, resident));
  if (r.grad_temperature) out.Set("gradTemperature", Napi::Number::New(env, *r.grad_temperature));
  if (r.similarity.defined()) out.Set("similarity", result_to_js(env, r.similarity, resident));
  return out;
}

Napi::Value correlation_to_js(Napi::Env env, const CorrelationResult& r, bool resident, const Outputs& outs = {}) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, r.loss));
  out.Set("onDiagonal", Napi::Number::New(env, r.on_diagonal));
  out.Set("offDiagonal", Napi::Number::New(env, r.off_diagonal));
  if (r.grad1.defined()) out.Set("grad1", outs.to_js(env, outs.grad1, r.grad1, resident));
  if (r.grad2.defined()) out.Set("grad2", outs.to_js(env, outs.grad2, r.grad2, resident));
  return out;
}

// npairsLoss(x1, x2, options, async)
Napi::Value NpairsLoss(const Napi::CallbackInfo& info) {
  Napi::Object o = get_options(info, 2);
  const bool async = info.Length() > 3 && info[3].ToBoolean().Value();
  Inputs in = read_inputs(info, o, "x1", "x2", async);
  NpairsOptions opt = read_npairs_options(o, in.device, async);
  const bool resident = in.resident;
  const Outputs outs = gradient_outputs(info.Env(), in, opt.grad, opt.group != nullptr);
  opt.out_grad1 = outs.grad1.tensor;
  opt.out_grad2 = outs.grad2.tensor;
  if (!async) {
    NpairsResult r;
    // on the JS thread: the device current, no wait (data() waits when it copies)
    pairloss::run_on_device(in.device, [&] { r = pairloss::npairs_loss(in.a, in.b, opt); }, false);
    return npairs_to_js(info.Env(), r, resident, outs);
  }
  auto result = std::make_shared<NpairsResult>();
  if (opt.group) {
    // queued to the group's thread, in call order with the group's other calls;
    // it waits for the device's stream there, as PromiseWorker does
    return start_group_call(
        info.Env(), opt.group,
        [in, opt, result] { pairloss::run_on_device(in.device, [&] { *result = pairloss::npairs_loss(in.a, in.b, opt); }); },
        [result, resident](Napi::Env env) { return npairs_to_js(env, *result, resident); });
  }
  // the outputs' references stay with the completion (JS thread) side
  if (!resident && in.device.is_cpu() && in.a.dim() == 2 && in.b.dim() == 2 &&
      affine_eligible({in.a.size(0) * in.b.size(0), in.a.numel(), in.b.numel()})) {
    if (auto promise = start_affine(
            info.Env(), [in, opt, result] { *result = pairloss::npairs_loss(in.a, in.b, opt); },
            [result, resident, outs](Napi::Env env) { return npairs_to_js(env, *result, resident, outs); })) {
      return *promise;
    }
  }
  return PromiseWorker::Start(
      info.Env(), [in, opt, result] { *result = pairloss::npairs_loss(in.a, in.b, opt); },
      [result, resident, outs](Napi::Env env) { return npairs_to_js(env, *result, resident, outs); }, in.device);
}

// correlationLoss(z1, z2, options, async)
Napi::Value CorrelationLoss(const Napi::CallbackInfo& info) {
  Napi::Object o = get_options(info, 2);
  const bool async = info.Length() > 3 && info[3].ToBoolean().Value();
  Inputs in = read_inputs(info, o, "z1", "z2", async);
  CorrelationOptions opt = read_correlation_options(o);
  const bool resident = in.resident;
  const Outputs outs = gradient_outputs(info.Env(), in, opt.grad, opt.group != nullptr);
  opt.out_grad1 = outs.grad1.tensor;
  opt.out_grad2 = outs.grad2.tensor;
  if (!async) {
    CorrelationResult r;
    pairloss::run_on_device(in.device, [&] { r = pairloss::correlation_loss(in.a, in.b, opt); }, false);
    return correlation_to_js(info.Env(), r, resident, outs);
  }
  auto result = std::make_shared<CorrelationResult>();
  if (opt.group) {
    return start_group_call(
        info.Env(), opt.group,
        [in, opt, result] {
          pairloss::run_on_device(in.device, [&] { *result = pairloss::correlation_loss(in.a, in.b, opt); });
        },
        [result, resident](Napi::Env env) { return correlation_to_js(env, *result, resident); });
  }
  if (!resident && in.device.is_cpu() && in.a.dim() == 2 && in.b.dim() == 2) {
    const int64_t k = opt.mode == pairloss::CorrelationMode::Samples ? in.a.size(0) : in.a.size(1);
    if (affine_eligible({k * k, in.a.numel(), in.b.numel()})) {
      if (auto promise = start_affine(
              info.Env(), [in, opt, result] { *result = pairloss::correlation_loss(in.a, in.b, opt); },
              [result, resident, outs](Napi::Env env) { return correlation_to_js(env, *result, resident, outs); })) {
        return *promise;
      }
    }
  }
  return PromiseWorker::Start(
      info.Env(), [in, opt, result] { *result = pairloss::correlation_loss(in.a, in.b, opt); },
      [result, resident, outs](Napi::Env env) { return correlation_to_js(env, *result, resident, outs); }, in.device);
}

}  // namespace

void init_losses(Napi::Env env, Napi::Object exports) {
  exports.Set("npairsLoss", Napi::Function::New<guarded<NpairsLoss>>(env, "npairsLoss"));
  exports.Set("correlationLoss", Napi::Function::New<guarded<CorrelationLoss>>(env, "correlationLoss"));
}

}  // namespace pairloss_binding
