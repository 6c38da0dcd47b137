#include "negative_cosine.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <atomic>
#include <cmath>
#include <optional>
#include <vector>

#include "errors.h"
#include "fused.h"
#include "ops.h"

namespace pairloss {

namespace {

// lightly's expression (the reference path, LibTorch autograd): torch's
// cosine_similarity (1.13: each row divided by sqrt of its squared norm
// clamped in place to eps^2 without autograd, the products summed).
NegativeCosineResult reference(const at::Tensor& x1_in, const at::Tensor& x2_in, const NegativeCosineOptions& o) {
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor x1 = x1_in.detach(), x2 = x2_in.detach();
  if (o.grad) {
    x1.requires_grad_(true);
    x2.requires_grad_(true);
  }
  at::Tensor loss = -at::cosine_similarity(x1, x2, 1, o.eps).mean();
  NegativeCosineResult r;
  r.loss = loss.item<double>();
  if (o.grad) {
    auto g = torch::autograd::grad({loss}, {x1, x2});
    r.grad1 = g[0];
    r.grad2 = g[1];
  }
  return r;
}

// The hand-derived form, any device: ca = max(|x1_i|, eps) (cb for x2),
// c_i = x1_i . x2_i / (ca cb); d c_i / d x1_i = x2_i / (ca cb) - c_i x1_i / ca^2
// (torch's graph: the clamped norm's sqrt differentiated at its clamped
// value), and symmetrically for x2. Only where every norm is >= eps: below
// it LibTorch versions differ (1.13 clamps the product of the squared norms
// to eps^2, 2.x each norm to eps, with other gradients), so such inputs take
// the reference path, the linked LibTorch's own cosine_similarity.
bool has_short_row(const at::Tensor& x, double eps) { return (x.norm(2, 1) < eps).any().item<bool>(); }

NegativeCosineResult direct_aten(const at::Tensor& x1, const at::Tensor& x2, const NegativeCosineOptions& o) {
  at::NoGradGuard no_grad;
  const double inv_n = 1.0 / static_cast<double>(x1.size(0));
  at::Tensor a = x1.norm(2, 1, true), b = x2.norm(2, 1, true);
  at::Tensor ca = a.clamp_min(o.eps), cb = b.clamp_min(o.eps);
  at::Tensor cos = ((x1 / ca) * (x2 / cb)).sum(1, true);
  NegativeCosineResult r;
  r.loss = -cos.sum().item<double>() * inv_n;
  if (o.grad) {
    at::Tensor inv = 1.0 / (ca * cb);
    at::Tensor ka = cos / (ca * ca), kb = cos / (cb * cb);
    r.grad1 = (x2 * inv - x1 * ka).mul_(-inv_n);
    r.grad2 = (x1 * inv - x2 * kb).mul_(-inv_n);
  }
  return r;
}

// The same on the CPU in one pass over the rows, in double.
// Empty where a row's norm is below eps (see above).
template <typename T>
std::optional<NegativeCosineResult> direct_cpu(const at::Tensor& x1_in, const at::Tensor& x2_in, const NegativeCosineOptions& o) {
  const at::Tensor x1 = x1_in.contiguous(), x2 = x2_in.contiguous();
  const int64_t n = x1.size(0), d = x1.size(1);
  const double inv_n = 1.0 / static_cast<double>(n), eps = o.eps;
  NegativeCosineResult r;
  if (o.grad) {
    r.grad1 = at::empty_like(x1);
    r.grad2 = at::empty_like(x2);
  }
  const T* p1 = x1.data_ptr<T>();
  const T* p2 = x2.data_ptr<T>();
  T* g1 = o.grad ? r.grad1.data_ptr<T>() : nullptr;
  T* g2 = o.grad ? r.grad2.data_ptr<T>() : nullptr;
  std::vector<double> cos(static_cast<size_t>(n));
  std::atomic<bool> short_row{false};
  at::parallel_for(0, n, std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T* u = p1 + i * d;
      const T* v = p2 + i * d;
      double uu = 0, vv = 0, uv = 0;
      for (int64_t k = 0; k < d; ++k) {
        const double s = u[k], t = v[k];
        uu += s * s;
        vv += t * t;
        uv += s * t;
      }
      const double a = std::sqrt(uu), b = std::sqrt(vv);
      if (a < eps || b < eps) {
        short_row.store(true, std::memory_order_relaxed);
        continue;
      }
      const double ca = std::max(a, eps), cb = std::max(b, eps);
      const double c = uv / (ca * cb);
      cos[static_cast<size_t>(i)] = c;
      if (g1 == nullptr) continue;
      const double inv = -inv_n / (ca * cb);
      const double ka = inv_n * c / (ca * ca), kb = inv_n * c / (cb * cb);
      T* h1 = g1 + i * d;
      T* h2 = g2 + i * d;
      for (int64_t k = 0; k < d; ++k) {
        const double s = u[k], t = v[k];
        h1[k] = static_cast<T>(inv * t + ka * s);
        h2[k] = static_cast<T>(inv * s + kb * t);
      }
    }
  });
  if (short_row.load()) return std::nullopt;
  double sum = 0;
  for (double c : cos) sum += c;
  r.loss = -sum * inv_n;
  return r;
}

}  // namespace

NegativeCosineResult negative_cosine_loss(const at::Tensor& x1, const at::Tensor& x2, const NegativeCosineOptions& o) {
  check_loss_inputs(x1, x2, true, o.check_finite, "x1", "x2");
  NegativeCosineResult r;
  if (!fused_enabled()) {
    r = reference(x1, x2, o);
  } else if (x1.device().is_cpu()) {
    std::optional<NegativeCosineResult> d =
        x1.scalar_type() == at::kFloat ? direct_cpu<float>(x1, x2, o) : direct_cpu<double>(x1, x2, o);
    r = d ? std::move(*d) : reference(x1, x2, o);
  } else if (has_short_row(x1, o.eps) || has_short_row(x2, o.eps)) {
    r = reference(x1, x2, o);
  } else {
    r = direct_aten(x1, x2, o);
  }
  place_gradient(r.grad1, o.out_grad1);
  place_gradient(r.grad2, o.out_grad2);
  return r;
}

}  // namespace pairloss
