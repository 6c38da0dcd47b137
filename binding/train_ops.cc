// The operations of a training step: matmul (transpose flags, `out`). Each entry reads its
// arguments, then runs now (sync, on the JS thread) or on the libuv pool
// (async: the inputs copied when the call is made, results copied into the
// caller's memory on the JS thread when it is done). lib/ checks every
// argument first and runs small async calls inline, as sync calls.
#include <memory>
#include <utility>

#include "async_call.h"
#include "call_options.h"
#include "device.h"
#include "errors.h"
#include "exports.h"
#include "handles.h"
#include "js_errors.h"
#include "marshal.h"
#include "ops.h"

namespace pairloss_binding {

namespace {

bool async_arg(const Napi::CallbackInfo& info, size_t index) {
  return info.Length() > index && info[index].ToBoolean().Value();
}

// JS memory an async call writes into when it is done (on the JS thread):
// the caller's { data, shape }, held by a reference until then.
using JsTarget = std::shared_ptr<Napi::ObjectReference>;

JsTarget js_target(const Napi::Value& value) {
  return std::make_shared<Napi::ObjectReference>(Napi::Persistent(value.As<Napi::Object>()));
}

// Copies `result` into the target's memory, read again now: it may have been
// detached (transferred) while the call ran.
void write_back(const JsTarget& target, const at::Tensor& result, const char* name) {
  at::Tensor dst = tensor_from_js(target->Value(), name);
  PAIRLOSS_CHECK(dst.numel() == result.numel() && dst.scalar_type() == result.scalar_type(),
                 std::string(name) + " changed size or dtype while the call ran");
  if (dst.numel() > 0) dst.view(result.sizes()).copy_(result);
}

// A product with an optional `out` ({ data, shape } over the caller's
// memory, or null): sync, `compute(out)` writes there (undefined is
// returned: lib makes the tensor over out); async, `compute({})` makes a new
// tensor on the pool, copied into out when done. Without out, the result.
template <typename Compute>
Napi::Value run_product(Napi::Env env, bool async, const Napi::Value& out, bool resident, const at::Device& device,
                        Compute compute) {
  if (!async) {
    const at::Tensor target = out.IsNull() ? at::Tensor() : tensor_from_js(out, "out");
    at::Tensor result;
    pairloss::run_on_device(device, [&] { result = compute(target); }, false);
    return target.defined() ? env.Undefined() : result_to_js(env, result, resident);
  }
  auto result = std::make_shared<at::Tensor>();
  const JsTarget target = out.IsNull() ? nullptr : js_target(out);
  AsyncCall::Work work = [result, compute, device] {
    pairloss::run_on_device(device, [&] { *result = compute(at::Tensor()); });
  };
  AsyncCall::Finish finish = [result, target, resident](Napi::Env e) -> Napi::Value {
    if (!target) return result_to_js(e, *result, resident);
    write_back(target, *result, "out");
    return e.Undefined();
  };
  return start_on_pool(env, std::move(work), std::move(finish));
}

}  // namespace

// matmul(a, b, { transposeA, transposeB, out, device }, async)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  const bool async = async_arg(info, 3);
  const MatmulOptions o = read_matmul_options(info[2]);
  const at::Tensor a = placed(info[0], tensor_from_js(info[0], "a"), o.device, async);
  const at::Tensor b = placed(info[1], tensor_from_js(info[1], "b"), o.device, async);
  const bool ta = o.transpose_a, tb = o.transpose_b;
  return run_product(info.Env(), async, o.out, results_resident(o.device, {info[0], info[1]}), o.device,
                     [a, b, ta, tb](const at::Tensor& out) { return pairloss::matmul(a, b, ta, tb, out); });
}

}  // namespace pairloss_binding
