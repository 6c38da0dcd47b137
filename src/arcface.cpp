#include "arcface.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "errors.h"
#include "fused.h"
#include "ops.h"
#include "parallel.h"

namespace pairloss {

namespace {

constexpr double kNormEps = 1e-12;  // CosineSimilarity's F.normalize, default eps
constexpr double kPi = 3.14159265358979323846;

// np.radians(margin) and np.deg2rad(180) - margin, as numpy computes them (x * (pi / 180)).
double radians(double degrees) { return degrees * (kPi / 180.0); }

// ---- the reference path: PML's code in LibTorch, gradients by autograd ----
// losses/large_margin_softmax_loss.py compute_loss, with arcface_loss.py's
// init_margin, modify_cosine_of_target_classes and scale_logits; the reducer
// MeanReducer (the mean over the rows; no miner: every weight 1).
ArcFaceResult reference(const at::Tensor& x_in, const at::Tensor& labels_cpu, const at::Tensor& centers_in,
                        const ArcFaceOptions& o) {
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor x = x_in.detach(), w = centers_in.detach();
  if (o.grad) {
    x.requires_grad_(true);
    w.requires_grad_(true);
  }
  at::Tensor labels = labels_cpu.to(x.device());
  const double margin = radians(o.margin);
  at::Tensor mask = at::zeros({x.size(0), w.size(0)}, x.options().requires_grad(false));
  mask.scatter_(1, labels.unsqueeze(1), 1.0);
  // get_cosine: CosineSimilarity()(embeddings, W.t()) = normalize(x) @ normalize(W.t()).T
  at::Tensor cosine = at::matmul(normalize(x, 2.0, 1, kNormEps), normalize(w, 2.0, 1, kNormEps).t());
  at::Tensor target = cosine.masked_select(mask.eq(1));
  at::Tensor angles = at::acos(at::clamp(target, -1, 1));  // get_angles
  at::Tensor modified = at::where(angles.le(radians(180.0) - margin), at::cos(angles + margin),
                                  at::cos(angles) - margin * std::sin(margin));
  at::Tensor diff = (modified - target).unsqueeze(1);
  at::Tensor logits = (cosine + mask * diff) * o.scale;
  at::Tensor loss = at::cross_entropy_loss(logits, labels, {}, at::Reduction::None, -100, 0.0).mean();
  ArcFaceResult r;
  r.loss = loss.item<double>();
  if (o.grad) {
    auto g = torch::autograd::grad({loss}, {x, w});
    r.grad = g[0];
    r.grad_centers = g[1];
  }
  return r;
}

// ---- the direct path: one product forward, two back ----

// F.normalize's backward: g / c - [|x| >= eps] (g . x) x / (c^2 |x|), c = max(|x|, eps).
at::Tensor normalize_backward(const at::Tensor& g, const at::Tensor& xn, const at::Tensor& norm, const at::Tensor& den) {
  at::Tensor dot = (g * xn).sum(1, true);
  return at::where(norm.ge(kNormEps), (g - xn * dot) / den, g / den);
}

// Over the rows of cos [N, C]: the loss of each row, and (with grad) d loss /
// d cos written over cos. The target logit and its derivative follow
// autograd's steps in the dtype (clamp, acos, the branch, cos), so that
// cos = +-1 gives what autograd gives there (acos' derivative infinite).
template <typename T>
double rows(T* cos, const int64_t* labels, int64_t n, int64_t c, const ArcFaceOptions& o) {
  const double m = radians(o.margin);
  const T margin = static_cast<T>(m), threshold = static_cast<T>(radians(180.0) - m);
  const T shift = static_cast<T>(m * std::sin(m));
  const T scale = static_cast<T>(o.scale);
  const double inv_n = 1.0 / static_cast<double>(n);
  std::vector<double> losses(n, 0.0);
  at::parallel_for(0, n, grain(c * 8), [&](int64_t begin, int64_t end) {
    std::vector<double> z(c);
    for (int64_t i = begin; i < end; i++) {
      T* row = cos + i * c;
      const int64_t t = labels[i];
      const T target = row[t];
      const T clamped = std::min(std::max(target, T(-1)), T(1));
      const T angle = std::acos(clamped);
      const bool near = angle <= threshold;
      const T modified = near ? T(std::cos(T(angle + margin))) : T(T(std::cos(angle)) - shift);
      const T diff = modified - target;
      double max = -INFINITY;
      for (int64_t j = 0; j < c; j++) {
        const T logit = (j == t ? T(target + diff) : T(row[j] + T(0) * diff)) * scale;
        z[j] = static_cast<double>(logit);
        max = std::max(max, z[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < c; j++) sum += std::exp(z[j] - max);
      const double lse = max + std::log(sum);
      losses[i] = lse - z[t];
      if (!o.grad) continue;
      const double k = static_cast<double>(scale) * inv_n;
      for (int64_t j = 0; j < c; j++) row[j] = static_cast<T>(k * std::exp(z[j] - lse));
      // the target: d/dcos of (cos + (U(cos) - cos)) = U'(cos), through clamp and acos
      const T g = static_cast<T>(k * (std::exp(z[t] - lse) - 1.0));
      const T g_angle = g * (near ? T(-std::sin(T(angle + margin))) : T(-std::sin(angle)));
      const T g_clamped = g_angle * -(T(1) / std::sqrt(T(T(1) - clamped * clamped)));
      row[t] = (target >= T(-1) && target <= T(1)) ? g_clamped : T(0);
    }
  });
  double total = 0;
  for (double l : losses) total += l;
  return total * inv_n;
}

template <typename T>
ArcFaceResult direct(const at::Tensor& x_in, const at::Tensor& labels, const at::Tensor& w_in, const ArcFaceOptions& o) {
  at::NoGradGuard no_grad;
  at::Tensor x = x_in.contiguous(), w = w_in.contiguous();
  at::Tensor xnorm = x.norm(2, 1, true), wnorm = w.norm(2, 1, true);
  at::Tensor xden = xnorm.clamp_min(kNormEps), wden = wnorm.clamp_min(kNormEps);
  at::Tensor xn = x / xden, wn = w / wden;
  at::Tensor cos = at::mm(xn, wn.t());
  ArcFaceResult r;
  r.loss = rows<T>(cos.data_ptr<T>(), labels.data_ptr<int64_t>(), x.size(0), w.size(0), o);
  if (!o.grad) return r;
  r.grad = normalize_backward(at::mm(cos, wn), xn, xnorm, xden);
  r.grad_centers = normalize_backward(at::mm(cos.t(), xn), wn, wnorm, wden);
  return r;
}

}  // namespace

ArcFaceResult arcface_loss(const at::Tensor& x, const at::Tensor& labels_in, const at::Tensor& centers,
                           const ArcFaceOptions& o) {
  check_loss_inputs(x, centers, false, o.check_finite, "x", "centers");
  PAIRLOSS_CHECK(labels_in.defined() && labels_in.dim() == 1 && labels_in.scalar_type() == at::kLong &&
                     labels_in.device().is_cpu() && labels_in.size(0) == x.size(0),
                 "labels must be an int64 CPU tensor of N entries");
  at::Tensor labels = labels_in.contiguous();
  const int64_t c = centers.size(0);
  const int64_t* lab = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < labels.size(0); i++) {
    PAIRLOSS_CHECK(lab[i] >= 0 && lab[i] < c, "labels must be class indices in [0, C)");
  }
  PAIRLOSS_CHECK(std::isfinite(o.margin) && std::isfinite(o.scale), "margin and scale must be finite");
  ArcFaceResult r;
  const auto type = x.scalar_type();
  if (fused_enabled() && x.device().is_cpu() && (type == at::kFloat || type == at::kDouble)) {
    r = type == at::kFloat ? direct<float>(x, labels, centers, o) : direct<double>(x, labels, centers, o);
  } else {
    r = reference(x, labels, centers, o);
  }
  place_gradient(r.grad, o.out_grad);
  place_gradient(r.grad_centers, o.out_grad_centers);
  return r;
}

}  // namespace pairloss
