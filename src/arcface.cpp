#include "arcface.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "blas.h"
#include "ce_kernels.h"
#include "errors.h"
#include "exact_norms.h"
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
      const T zero_diff = T(0) * diff;
      double max = -INFINITY;
      for (int64_t j = 0; j < c; j++) {
        const T logit = T(row[j] + zero_diff) * scale;
        z[j] = static_cast<double>(logit);
        max = std::max(max, z[j]);
      }
      const double zt = static_cast<double>(T(T(target + diff) * scale));
      z[t] = zt;
      max = std::max(max, zt);
      // e_j = exp(z_j - max) in double (SLEEF's 4 lanes), summed in four
      for (int64_t j = 0; j < c; j++) z[j] -= max;
      ce::exp_values(z.data(), c);
      double part[4] = {0, 0, 0, 0};
      int64_t j = 0;
      for (; j + 4 <= c; j += 4) {
        for (int l = 0; l < 4; ++l) part[l] += z[j + l];
      }
      for (; j < c; j++) part[0] += z[j];
      const double sum = (part[0] + part[1]) + (part[2] + part[3]);
      const double lse = max + std::log(sum);
      losses[i] = lse - zt;
      if (!o.grad) continue;
      const double k = static_cast<double>(scale) * inv_n;
      const double ks = k / sum;
      for (j = 0; j < c; j++) row[j] = static_cast<T>(ks * z[j]);
      // the target: d/dcos of (cos + (U(cos) - cos)) = U'(cos), through clamp and acos
      const T g = static_cast<T>(k * (z[t] / sum - 1.0));
      const T g_angle = g * (near ? T(-std::sin(T(angle + margin))) : T(-std::sin(angle)));
      const T g_clamped = g_angle * -(T(1) / std::sqrt(T(T(1) - clamped * clamped)));
      row[t] = (target >= T(-1) && target <= T(1)) ? g_clamped : T(0);
    }
  });
  double total = 0;
  for (double l : losses) total += l;
  return total * inv_n;
}

// normalise, one product forward (the BLAS call at::mm makes), rows(), two
// products back, on one workspace (no LibTorch op but the outputs').
template <typename T>
ArcFaceResult direct(const at::Tensor& x_in, const at::Tensor& labels, const at::Tensor& w_in, const ArcFaceOptions& o) {
  at::NoGradGuard no_grad;
  const at::Tensor x = x_in.contiguous(), w = w_in.contiguous();
  const int64_t n = x.size(0), c = w.size(0), d = x.size(1);
  std::unique_ptr<T[]> work(new T[static_cast<size_t>((n + c) * d + n * c + n + c)]);
  T* xn = work.get();
  T* wn = xn + n * d;
  T* cos = wn + c * d;
  T* xnorm = cos + n * c;
  T* wnorm = xnorm + n;
  exact_row_norms(x.data_ptr<T>(), xnorm, n, d);
  exact_row_norms(w.data_ptr<T>(), wnorm, c, d);
  ce::divide_rows(x.data_ptr<T>(), xnorm, xn, n, d, kNormEps);
  ce::divide_rows(w.data_ptr<T>(), wnorm, wn, c, d, kNormEps);
  blas::mm(xn, false, wn, true, cos, n, c, d);
  ArcFaceResult r;
  r.loss = rows<T>(cos, labels.data_ptr<int64_t>(), n, c, o);
  if (!o.grad) return r;
  r.grad = at::empty({n, d}, x.options());
  r.grad_centers = at::empty({c, d}, x.options());
  T* gx = r.grad.data_ptr<T>();
  T* gw = r.grad_centers.data_ptr<T>();
  blas::mm(cos, false, wn, false, gx, n, d, c);
  blas::mm(cos, true, xn, false, gw, c, d, n);
  // normalize's backward in place: (g - [|x| >= eps] xn (g . xn)) / max(|x|, eps)
  ce::normalize_backward(gx, xn, xnorm, n, d, kNormEps);
  ce::normalize_backward(gw, wn, wnorm, c, d, kNormEps);
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
