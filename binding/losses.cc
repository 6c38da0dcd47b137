// npairsLoss / ntXentLoss / correlationLoss: sync on the JS thread, or async: on the libuv
// pool, or under a process group queued to the group's thread in call order.
// (lib/losses.ts runs small async calls inline, as sync calls.) Inputs are
// typed-array views or native handles; on CUDA the results stay on the
// device as handles, and async calls wait for the device's stream on the
// thread that computed them.
#include <memory>

#include "async_call.h"
#include "call_options.h"
#include "device.h"
#include "exports.h"
#include "group_calls.h"
#include "handles.h"
#include "barlow_twins.h"
#include "npairs.h"
#include "nt_xent.h"
#include "siglip.h"
#include "vicreg.h"
#include "marshal.h"

namespace pairloss_binding {

namespace {

using pairloss::CorrelationResult;
using pairloss::NpairsResult;

// The two input tensors on the call's device; async calls (`copy`) own them.
struct Inputs {
  at::Tensor a, b;
};

Inputs read_inputs(const Napi::CallbackInfo& info, const at::Device& device, const char* name_a, const char* name_b,
                   bool copy) {
  Inputs in;
  in.a = placed(info[0], tensor_from_js(info[0], name_a), device, copy);
  in.b = placed(info[1], tensor_from_js(info[1], name_b), device, copy);
  return in;
}

// Memory for the two gradients that JS will own (see JsOutput), where the
// fused CPU path can compute into it: host results of a call without a group.
struct Outputs {
  JsOutput grad1, grad2;
  Napi::Value to_js(Napi::Env env, const JsOutput& out, const at::Tensor& t, bool resident) const {
    return resident && !out.user ? result_to_js(env, t, true) : Napi::Value(output_to_js(env, out, t));
  }
};

// With `out` (caller memory), a sync call computes into it; an async one
// into memory of its own, copied over when it settles (see user_output).
Outputs gradient_outputs(Napi::Env env, const Inputs& in, const at::Device& device, bool resident, bool grad,
                         bool group, const GradOut& user, bool async) {
  Outputs o;
  const bool fused = grad && !group && !resident && device.is_cpu() && in.a.dim() == 2 && in.b.dim() == 2 &&
                     in.a.scalar_type() == in.b.scalar_type() && in.a.size(1) == in.b.size(1);
  // memory of the call's own for one gradient (none where the fused path cannot write into it)
  auto own = [&](const at::Tensor& x) {
    return fused ? js_output(env, x.size(0), x.size(1), x.scalar_type()) : JsOutput();
  };
  // caller memory: a sync call computes into it directly (nothing else is
  // allocated for it; the group path copies its slice there), an async one
  // into memory of its own, copied over when it settles
  o.grad1 = user.t1.defined() ? user_output(user.grad1, user.t1, "out.grad1", !async, async ? own(in.a) : JsOutput()) : own(in.a);
  o.grad2 = user.t2.defined() ? user_output(user.grad2, user.t2, "out.grad2", !async, async ? own(in.b) : JsOutput()) : own(in.b);
  return o;
}

Napi::Value npairs_to_js(Napi::Env env, const NpairsResult& r, bool resident, const Outputs& outs) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, r.loss));
  if (r.grad1.defined()) out.Set("grad1", outs.to_js(env, outs.grad1, r.grad1, resident));
  if (r.grad2.defined()) out.Set("grad2", outs.to_js(env, outs.grad2, r.grad2, resident));
  if (r.grad_temperature) out.Set("gradTemperature", Napi::Number::New(env, *r.grad_temperature));
  if (r.similarity.defined()) out.Set("similarity", result_to_js(env, r.similarity, resident));
  return out;
}

Napi::Value correlation_to_js(Napi::Env env, const CorrelationResult& r, bool resident, const Outputs& outs) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, r.loss));
  out.Set("onDiagonal", Napi::Number::New(env, r.on_diagonal));
  out.Set("offDiagonal", Napi::Number::New(env, r.off_diagonal));
  if (r.grad1.defined()) out.Set("grad1", outs.to_js(env, outs.grad1, r.grad1, resident));
  if (r.grad2.defined()) out.Set("grad2", outs.to_js(env, outs.grad2, r.grad2, resident));
  return out;
}

Napi::Value sigmoid_to_js(Napi::Env env, const pairloss::SigmoidLossResult& r, bool resident, const Outputs& outs) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, r.loss));
  if (r.grad1.defined()) {
    out.Set("grad1", outs.to_js(env, outs.grad1, r.grad1, resident));
    out.Set("grad2", outs.to_js(env, outs.grad2, r.grad2, resident));
    out.Set("gradScale", Napi::Number::New(env, r.grad_scale));
    out.Set("gradBias", Napi::Number::New(env, r.grad_bias));
  }
  return out;
}

Napi::Value vicreg_to_js(Napi::Env env, const pairloss::VicregResult& r, bool resident, const Outputs& outs) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, r.loss));
  out.Set("invariance", Napi::Number::New(env, r.invariance));
  out.Set("variance", Napi::Number::New(env, r.variance));
  out.Set("covariance", Napi::Number::New(env, r.covariance));
  if (r.grad1.defined()) out.Set("grad1", outs.to_js(env, outs.grad1, r.grad1, resident));
  if (r.grad2.defined()) out.Set("grad2", outs.to_js(env, outs.grad2, r.grad2, resident));
  return out;
}

// Runs `loss(a, b, options)` now (sync) or as an AsyncCall (pool or group),
// and makes its JS result with `to_js`.
template <typename Options, typename Result, typename Loss, typename ToJs>
Napi::Value run_loss(const Napi::CallbackInfo& info, bool async, const at::Device& device, const Inputs& in,
                     Options opt, const GradOut& user, bool resident, Loss loss, ToJs to_js) {
  Napi::Env env = info.Env();
  const Outputs outs = gradient_outputs(env, in, device, resident, opt.grad, opt.group != nullptr, user, async);
  opt.out_grad1 = outs.grad1.tensor;
  opt.out_grad2 = outs.grad2.tensor;
  if (!async) {
    Result r;
    // on the JS thread: the device current, no wait (data() waits when it copies)
    pairloss::run_on_device(device, [&] { r = loss(in.a, in.b, opt); }, false);
    return to_js(env, r, resident, outs);
  }
  auto result = std::make_shared<Result>();
  // Off the JS thread, with the device current, waiting for its stream there.
  AsyncCall::Work work = [in, opt, result, device, loss] {
    pairloss::run_on_device(device, [&] { *result = loss(in.a, in.b, opt); });
  };
  // The outputs' buffer references stay with the completion (JS thread) side.
  AsyncCall::Finish finish = [result, resident, outs, to_js](Napi::Env e) { return to_js(e, *result, resident, outs); };
  if (opt.group) return start_group_call(env, opt.group, std::move(work), std::move(finish));
  return start_on_pool(env, std::move(work), std::move(finish));
}

bool async_arg(const Napi::CallbackInfo& info) { return info.Length() > 3 && info[3].ToBoolean().Value(); }

}  // namespace

// npairsLoss(x1, x2, options, async)
Napi::Value NpairsLoss(const Napi::CallbackInfo& info) {
  const bool async = async_arg(info);
  NpairsArgs args = read_npairs_options(info[2], async);
  const Inputs in = read_inputs(info, args.device, "x1", "x2", async);
  const bool resident = results_resident(args.device, {info[0], info[1], args.target});
  return run_loss<pairloss::NpairsOptions, NpairsResult>(info, async, args.device, in, std::move(args.options), args.out, resident,
                                                         pairloss::npairs_loss, npairs_to_js);
}


// sigmoidLoss(x1, x2, options, async)
Napi::Value SigmoidLoss(const Napi::CallbackInfo& info) {
  const bool async = async_arg(info);
  SigmoidArgs args = read_sigmoid_options(info[2], async);
  const Inputs in = read_inputs(info, args.device, "x1", "x2", async);
  const bool resident = results_resident(args.device, {info[0], info[1], args.target});
  return run_loss<pairloss::SigmoidOptions, pairloss::SigmoidLossResult>(info, async, args.device, in, std::move(args.options), args.out,
                                                                       resident, pairloss::sigmoid_loss, sigmoid_to_js);
}


// vicregLoss(z1, z2, options, async)
Napi::Value VicregLoss(const Napi::CallbackInfo& info) {
  const bool async = async_arg(info);
  VicregArgs args = read_vicreg_options(info[2]);
  const Inputs in = read_inputs(info, args.device, "z1", "z2", async);
  const bool resident = results_resident(args.device, {info[0], info[1]});
  return run_loss<pairloss::VicregOptions, pairloss::VicregResult>(info, async, args.device, in, std::move(args.options), args.out,
                                                                 resident, pairloss::vicreg_loss, vicreg_to_js);
}

// ntXentLoss(z1, z2, options, async)
Napi::Value NtXentLoss(const Napi::CallbackInfo& info) {
  const bool async = async_arg(info);
  NtXentArgs args = read_nt_xent_options(info[2], async);
  const Inputs in = read_inputs(info, args.device, "z1", "z2", async);
  const bool resident = results_resident(args.device, {info[0], info[1], args.negatives});
  return run_loss<pairloss::NtXentOptions, NpairsResult>(info, async, args.device, in, std::move(args.options), args.out, resident,
                                                         pairloss::nt_xent_loss, npairs_to_js);
}

// correlationLoss(z1, z2, options, async)
Napi::Value CorrelationLoss(const Napi::CallbackInfo& info) {
  const bool async = async_arg(info);
  CorrelationArgs args = read_correlation_options(info[2]);
  const Inputs in = read_inputs(info, args.device, "z1", "z2", async);
  const bool resident = results_resident(args.device, {info[0], info[1]});
  return run_loss<pairloss::CorrelationOptions, CorrelationResult>(info, async, args.device, in, std::move(args.options), args.out,
                                                                   resident, pairloss::correlation_loss, correlation_to_js);
}

}  // namespace pairloss_binding
