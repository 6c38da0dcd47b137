// A loss's native entry, generic over its row in binding/loss_specs.h:
//   native.<name>(input_0, ..., input_{k-1}, options, async) -> result (or a Promise of it)
// k is 1 to 3; each input is a tensor (a typed-array view or a handle, placed
// on the call's device) or class indices (int64 on the CPU, a copy). The
// options are read by the loss's field list, tensor options (a target, a
// memory bank) placed on the call's device once it is known; `out` is caller
// memory keyed by the result's gradient fields. The call runs sync on the JS
// thread, or async: on the libuv pool, or under a process group queued to the
// group's thread in call order. On CUDA the results stay on the device as
// handles, and async calls wait for the device's stream on the thread that
// computed them. The result goes to JS by its field list: scalars as numbers,
// gradients through their outputs (JsOutput), other tensors as results.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "async_call.h"
#include "call_options.h"
#include "device.h"
#include "fields.h"
#include "group_calls.h"
#include "handles.h"
#include "js_errors.h"
#include "marshal.h"

namespace pairloss_binding {

constexpr size_t kMaxInputs = 3;

// A loss's `out` option: null, or { <gradField>: { data, shape } | null, ... }
// over caller memory (lib/out.ts has checked the sizes, the dtype and that
// nothing overlaps), keyed by the gradient fields of the loss's inputs.
struct GradOut {
  Napi::Value value;                              // as sent
  std::array<const char*, kMaxInputs> names{};    // by input: its gradient field (nullptr: none)
  std::array<Napi::Value, kMaxInputs> js;         // out.<name>, kept for the result
  std::array<at::Tensor, kMaxInputs> views;       // CPU views of the caller's memory (undefined: not given)
};
// Keeps the value (null or an object); parse_grad_out reads it by the gradient names.
void from_js(const Napi::Value& v, const char* key, GradOut& out);
void parse_grad_out(GradOut& out, const std::array<const char*, kMaxInputs>& names);
// The echo: null, or { <name>: tensor | null } for each gradient field.
Napi::Value to_js(Napi::Env env, const GradOut& out);

// What the binding reads of a loss's options: src's options, the device
// the call runs on, and `out`. Field lists name members of either.
template <typename Options>
struct LossArgs {
  Options options;
  at::Device device = at::kCPU;
  GradOut out;
};

// ---------- a loss's row ----------

enum class InputKind { Tensor, Index };

template <typename Options>
struct Input {
  const char* name;                 // for messages
  InputKind kind;
  const char* grad;                 // its gradient's result field (nullptr: none)
  at::Tensor Options::*out_grad;    // where src takes memory for that gradient
};

// A tensor input with its gradient: the result field and src's out_* member.
template <typename Options>
struct TensorInput {
  const char* name;
  const char* grad;
  at::Tensor Options::*out_grad;
};
template <typename Options>
constexpr TensorInput<Options> tensor(const char* name, const char* grad, at::Tensor Options::*out_grad) {
  return {name, grad, out_grad};
}
// Class indices (RawIndices): int64 on the CPU, a copy; no gradient.
struct IndexInput {
  const char* name;
};
constexpr IndexInput index(const char* name) { return {name}; }

template <typename... In>
constexpr std::tuple<In...> inputs(In... in) {
  return {in...};
}

template <typename Options, typename Declared>
constexpr Input<Options> to_input(const TensorInput<Declared>& in) {
  static_assert(std::is_same_v<Options, Declared>, "a gradient's out_* member of another options struct");
  return {in.name, InputKind::Tensor, in.grad, in.out_grad};
}
template <typename Options>
constexpr Input<Options> to_input(const IndexInput& in) {
  return {in.name, InputKind::Index, nullptr, nullptr};
}

template <typename OptionsT, typename ResultT, size_t K, typename OptionFields, typename ResultFields, typename Fn>
struct LossSpec {
  using Options = OptionsT;
  using Result = ResultT;
  static constexpr size_t kInputs = K;
  const char* name;                      // the native function's name
  std::array<Input<Options>, K> inputs;  // in the call's order
  OptionFields options;                  // field list of LossArgs<Options>
  ResultFields result;                   // field list of Result
  Fn fn;                                 // src: Result fn(const at::Tensor& input_0, ..., const Options&)
};

// One row: loss(name, inputs(...), option fields, result fields, src function).
template <typename... In, typename OptionFields, typename ResultFields, typename Result, typename... Params>
constexpr auto loss(const char* name, std::tuple<In...> in, OptionFields options, ResultFields result,
                    Result (*fn)(Params...)) {
  static_assert(sizeof...(In) >= 1 && sizeof...(In) <= kMaxInputs, "1 to 3 inputs");
  static_assert(sizeof...(Params) == sizeof...(In) + 1, "src takes one argument per input, then its options");
  using Options = std::decay_t<std::tuple_element_t<sizeof...(In), std::tuple<Params...>>>;
  using Spec = LossSpec<Options, Result, sizeof...(In), OptionFields, ResultFields, Result (*)(Params...)>;
  const auto declared = std::apply(
      [](auto... i) { return std::array<Input<Options>, sizeof...(In)>{to_input<Options>(i)...}; }, in);
  return Spec{name, declared, options, result, fn};
}

// Every gradient an input declares is a field of the result.
template <typename SpecT>
constexpr bool gradients_in_result(const SpecT& spec) {
  for (const auto& input : spec.inputs) {
    if (input.grad == nullptr) continue;
    const bool found = std::apply(
        [&](const auto&... f) { return ((std::string_view(f.key) == input.grad) || ...); }, spec.result);
    if (!found) return false;
  }
  return true;
}

// ---------- the call ----------

template <typename O, typename = void>
struct has_group : std::false_type {};
template <typename O>
struct has_group<O, std::void_t<decltype(std::declval<O&>().group)>> : std::true_type {};

// The input whose gradient is result field `key`, or -1.
template <typename SpecT>
int gradient_index(const SpecT& spec, const char* key) {
  for (size_t i = 0; i < SpecT::kInputs; ++i) {
    if (spec.inputs[i].grad != nullptr && std::strcmp(spec.inputs[i].grad, key) == 0) return static_cast<int>(i);
  }
  return -1;
}

// Options `value` of the loss (every key of its field list, no other), tensor
// options placed on the call's device (an async call, `copy`, owns them) and
// appended to `tensors` (for results_resident), `out` read by the gradient fields.
template <typename SpecT>
LossArgs<typename SpecT::Options> read_loss_args(const SpecT& spec, const Napi::Value& value, bool copy,
                                                 std::vector<Napi::Value>& tensors) {
  LossArgs<typename SpecT::Options> args{};
  OptionReader o(value, spec.name);
  read_fields(o, args, spec.options);
  o.done();
  const Napi::Object object = value.As<Napi::Object>();
  for_each_field(spec.options, [&](const auto& f) {
    auto& t = member(args, f);
    if constexpr (std::is_same_v<std::decay_t<decltype(t)>, at::Tensor>) {
      if (!t.defined()) return;
      const Napi::Value js = object.Get(f.key);
      if (js.IsTypedArray()) {
        if (t.device() != args.device) t = pairloss::to_device(t, args.device);  // indices: a copy already
      } else {
        t = placed(js, t, args.device, copy);
      }
      tensors.push_back(js);
    }
  });
  std::array<const char*, kMaxInputs> names{};
  for (size_t i = 0; i < SpecT::kInputs; ++i) names[i] = spec.inputs[i].grad;
  parse_grad_out(args.out, names);
  return args;
}

// Memory for the gradients that JS will own (see JsOutput), by input. The
// fused CPU paths compute into it (host results of a call without a group,
// 2-D tensor inputs of one dtype and D); elsewhere src allocates its own.
// With `out` (caller memory), a sync call computes into it directly (the
// group path copies its slice there); an async one into memory of its own,
// copied over when it settles (see user_output).
template <typename SpecT, size_t K>
std::array<JsOutput, K> gradient_outputs(Napi::Env env, const SpecT& spec, const std::array<at::Tensor, K>& in,
                                         const at::Device& device, bool resident, bool grad, bool group,
                                         const GradOut& user, bool async) {
  bool fused = grad && !group && !resident && device.is_cpu();
  const at::Tensor* first = nullptr;
  for (size_t i = 0; i < K; ++i) {
    if (spec.inputs[i].kind != InputKind::Tensor) continue;
    const at::Tensor& x = in[i];
    fused = fused && x.dim() == 2 && (first == nullptr || (x.scalar_type() == first->scalar_type() && x.size(1) == first->size(1)));
    if (first == nullptr) first = &x;
  }
  auto own = [&](const at::Tensor& x) {
    return fused ? js_output(env, x.size(0), x.size(1), x.scalar_type()) : JsOutput();
  };
  std::array<JsOutput, K> outs;
  for (size_t i = 0; i < K; ++i) {
    if (spec.inputs[i].grad == nullptr) continue;
    outs[i] = user.views[i].defined()
                  ? user_output(user.js[i], user.views[i], std::string("out.") + spec.inputs[i].grad, !async,
                                async ? own(in[i]) : JsOutput())
                  : own(in[i]);
  }
  return outs;
}

// The result as JS, by its field list.
template <typename SpecT, size_t K>
Napi::Value loss_result_to_js(Napi::Env env, const SpecT& spec, const typename SpecT::Result& r, bool resident,
                              const std::array<JsOutput, K>& outs) {
  bool has_grad = false;
  for_each_field(spec.result, [&](const auto& f) {
    if constexpr (std::is_same_v<std::decay_t<decltype(r.*(f.member))>, at::Tensor>) {
      has_grad = has_grad || (gradient_index(spec, f.key) >= 0 && (r.*(f.member)).defined());
    }
  });
  Napi::Object out = Napi::Object::New(env);
  for_each_field(spec.result, [&](const auto& f) {
    const auto& v = r.*(f.member);
    using T = std::decay_t<decltype(v)>;
    if ((f.flags & kWithGradients) && !has_grad) return;
    if constexpr (std::is_same_v<T, double>) {
      out.Set(f.key, Napi::Number::New(env, v));
    } else if constexpr (std::is_same_v<T, std::optional<double>>) {
      if (v) out.Set(f.key, Napi::Number::New(env, *v));
    } else {
      static_assert(std::is_same_v<T, at::Tensor>, "a result field is a double, an optional double or a tensor");
      if (!v.defined()) return;
      const int g = gradient_index(spec, f.key);
      if (g < 0) {
        out.Set(f.key, result_to_js(env, v, resident));
      } else {
        const JsOutput& o = outs[g];
        out.Set(f.key, resident && !o.user ? result_to_js(env, v, true) : Napi::Value(output_to_js(env, o, v)));
      }
    }
  });
  return out;
}

template <typename SpecT, size_t... I>
typename SpecT::Result invoke_loss(const SpecT& spec, const std::array<at::Tensor, SpecT::kInputs>& in,
                                   const typename SpecT::Options& options, std::index_sequence<I...>) {
  return spec.fn(in[I]..., options);
}

// native.<Spec.name>(inputs..., options, async)
template <const auto& Spec>
Napi::Value call_loss(const Napi::CallbackInfo& info) {
  using SpecT = std::decay_t<decltype(Spec)>;
  using Options = typename SpecT::Options;
  using Result = typename SpecT::Result;
  constexpr size_t K = SpecT::kInputs;
  Napi::Env env = info.Env();
  const bool async = info.Length() > K + 1 && info[K + 1].ToBoolean().Value();
  std::vector<Napi::Value> tensors;
  LossArgs<Options> args = read_loss_args(Spec, info[K], async, tensors);
  const at::Device device = args.device;
  std::array<at::Tensor, K> in;
  for (size_t i = 0; i < K; ++i) {
    if (Spec.inputs[i].kind == InputKind::Index) {
      in[i] = indices_from_js(info[i], Spec.inputs[i].name);
    } else {
      in[i] = placed(info[i], tensor_from_js(info[i], Spec.inputs[i].name), device, async);
      tensors.push_back(info[i]);
    }
  }
  const bool resident = results_resident(device, tensors);
  Options opt = std::move(args.options);
  bool group = false;
  if constexpr (has_group<Options>::value) group = opt.group != nullptr;
  const std::array<JsOutput, K> outs = gradient_outputs(env, Spec, in, device, resident, opt.grad, group, args.out, async);
  for (size_t i = 0; i < K; ++i) {
    if (Spec.inputs[i].out_grad != nullptr) opt.*(Spec.inputs[i].out_grad) = outs[i].tensor;
  }
  if (!async) {
    Result r;
    // on the JS thread: the device current, no wait (data() waits when it copies)
    pairloss::run_on_device(device, [&] { r = invoke_loss(Spec, in, opt, std::make_index_sequence<K>()); }, false);
    return loss_result_to_js(env, Spec, r, resident, outs);
  }
  auto result = std::make_shared<Result>();
  // Off the JS thread, with the device current, waiting for its stream there.
  AsyncCall::Work work = [in, opt, result, device] {
    pairloss::run_on_device(device, [&] { *result = invoke_loss(Spec, in, opt, std::make_index_sequence<K>()); });
  };
  // The outputs' buffer references stay with the completion (JS thread) side.
  AsyncCall::Finish finish = [result, resident, outs](Napi::Env e) {
    return loss_result_to_js(e, Spec, *result, resident, outs);
  };
  if constexpr (has_group<Options>::value) {
    if (opt.group) return start_group_call(env, opt.group, std::move(work), std::move(finish));
  }
  return start_on_pool(env, std::move(work), std::move(finish));
}

// _echoOptions for a loss: its options read as the call reads them (tensor
// options placed, no copy), written back under the same keys.
template <const auto& Spec>
Napi::Value echo_loss(Napi::Env env, const Napi::Value& options) {
  std::vector<Napi::Value> tensors;
  return fields_to_js(env, read_loss_args(Spec, options, false, tensors), Spec.options);
}

// The losses' table: each row's native function, and its echo.
template <const auto&... Specs>
struct LossTable {
  static_assert((gradients_in_result(Specs) && ...), "an input's gradient is not a field of the result");

  static void init(Napi::Env env, Napi::Object exports) {
    (exports.Set(Specs.name, Napi::Function::New<guarded<call_loss<Specs>>>(env, Specs.name)), ...);
  }

  // `out`: the echo of loss `kind`'s options; false when no loss is named so.
  static bool echo(Napi::Env env, const std::string& kind, const Napi::Value& options, Napi::Value& out) {
    return ((kind == Specs.name ? (out = echo_loss<Specs>(env, options), true) : false) || ...);
  }
};

}  // namespace pairloss_binding
