// Throwaway losses that exercise binding/loss_call.h's one- and three-input
// paths (a tensor, class indices, a second tensor with its own gradient),
// built only with -DPAIRLOSS_BINDING_SELFTEST=ON (cmake), never in a shipped
// addon: they register _selftestOneInput and _selftestThreeInputs. Their
// maths is a sum of squares, simple enough to check by hand from JS:
//   _selftestOneInput(x, { scale, grad, device, out }, async)
//     -> { loss: scale * sum x^2, grad: 2 scale x }
//   _selftestThreeInputs(x, labels, centers, { scale, grad, device, out }, async)
//     -> { loss: scale * sum_i |x_i - centers[labels_i]|^2, rows: N,
//          grad: 2 scale (x - centers[labels]), gradCenters: -(the same, summed per label) }
#ifdef PAIRLOSS_BINDING_SELFTEST

#include "exports.h"
#include "loss_specs.h"

namespace pairloss_binding {

namespace {

struct OneOptions {
  double scale = 1.0;
  bool grad = true;
  at::Tensor out_grad;
};
struct OneResult {
  double loss = 0.0;
  at::Tensor grad;
};

// Into the caller's memory where it is given (the src convention).
at::Tensor into(const at::Tensor& out, const at::Tensor& value) {
  if (!out.defined()) return value;
  out.copy_(value);
  return out;
}

OneResult one_input(const at::Tensor& x, const OneOptions& o) {
  OneResult r;
  r.loss = (x * x).sum().item<double>() * o.scale;
  if (o.grad) r.grad = into(o.out_grad, 2 * o.scale * x);
  return r;
}

struct ThreeOptions {
  double scale = 1.0;
  bool grad = true;
  at::Tensor out_grad, out_grad_centers;
};
struct ThreeResult {
  double loss = 0.0;
  double rows = 0.0;
  at::Tensor grad, grad_centers;
};

ThreeResult three_inputs(const at::Tensor& x, const at::Tensor& labels, const at::Tensor& centers,
                         const ThreeOptions& o) {
  ThreeResult r;
  const at::Tensor diff = x - centers.index_select(0, labels.to(centers.device()));
  r.loss = (diff * diff).sum().item<double>() * o.scale;
  r.rows = static_cast<double>(x.size(0));
  if (o.grad) {
    const at::Tensor g = 2 * o.scale * diff;
    r.grad = into(o.out_grad, g);
    r.grad_centers = into(o.out_grad_centers, at::zeros_like(centers).index_add_(0, labels.to(centers.device()), -g));
  }
  return r;
}

constexpr std::array<std::string_view, 4> kSelftestKeys = {"scale", "grad", "device", "out"};

using OneArgs = LossArgs<OneOptions>;
constexpr auto kOneOptions = fields(field("scale", &OneOptions::scale), field("grad", &OneOptions::grad),
                                    field("device", &OneArgs::device), field("out", &OneArgs::out));
static_assert(same_keys(kOneOptions, kSelftestKeys));
constexpr auto kOneResult = fields(field("loss", &OneResult::loss), field("grad", &OneResult::grad));
constexpr auto kOneInput = loss("_selftestOneInput", inputs(tensor("x", "grad", &OneOptions::out_grad)), kOneOptions,
                                kOneResult, one_input);

using ThreeArgs = LossArgs<ThreeOptions>;
constexpr auto kThreeOptions = fields(field("scale", &ThreeOptions::scale), field("grad", &ThreeOptions::grad),
                                      field("device", &ThreeArgs::device), field("out", &ThreeArgs::out));
static_assert(same_keys(kThreeOptions, kSelftestKeys));
constexpr auto kThreeResult =
    fields(field("loss", &ThreeResult::loss), field("rows", &ThreeResult::rows), field("grad", &ThreeResult::grad),
           field("gradCenters", &ThreeResult::grad_centers));
constexpr auto kThreeInputs =
    loss("_selftestThreeInputs",
         inputs(tensor("x", "grad", &ThreeOptions::out_grad), index("labels"),
                tensor("centers", "gradCenters", &ThreeOptions::out_grad_centers)),
         kThreeOptions, kThreeResult, three_inputs);

}  // namespace

void init_selftest_losses(Napi::Env env, Napi::Object exports) {
  LossTable<kOneInput, kThreeInputs>::init(env, exports);
}

}  // namespace pairloss_binding

#endif  // PAIRLOSS_BINDING_SELFTEST
