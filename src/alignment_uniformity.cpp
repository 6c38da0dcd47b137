#include "alignment_uniformity.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "blas.h"
#include "errors.h"
#include "fused.h"
#include "ops.h"

namespace pairloss {

namespace {

constexpr double kNormalizeEps = 1e-12;  // F.normalize's default, as lightly calls it

// lightly's expression (the reference path, LibTorch autograd).
AlignmentUniformityResult reference(const at::Tensor& z1_in, const at::Tensor& z2_in,
                                    const AlignmentUniformityOptions& o) {
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor z1 = z1_in.detach(), z2 = z2_in.detach();
  if (o.grad) {
    z1.requires_grad_(true);
    z2.requires_grad_(true);
  }
  at::Tensor x = normalize(z1, 2.0, 1, kNormalizeEps), y = normalize(z2, 2.0, 1, kNormalizeEps);
  at::Tensor align = (x - y).norm(2, 1).pow(o.alpha).mean();
  auto lunif = [&](const at::Tensor& v) { return at::pdist(v, 2.0).pow(2).mul(-o.t).exp().mean().log(); };
  at::Tensor unif = (lunif(x) + lunif(y)) / 2.0;
  at::Tensor loss = align + o.lambda * unif;
  AlignmentUniformityResult r;
  r.loss = loss.item<double>();
  r.alignment = align.item<double>();
  r.uniformity = unif.item<double>();
  if (o.grad) {
    auto g = torch::autograd::grad({loss}, {z1, z2});
    r.grad1 = g[0];
    r.grad2 = g[1];
  }
  return r;
}

// Uniformity of one view and its gradient with respect to the normalised
// rows: |x_i - x_j|^2 = s_i + s_j - 2 x_i . x_j (s_i = |x_i|^2; clamped at 0),
// e_ij = exp(-t (|x_i - x_j|^2 - m)) with m the smallest distance of a pair
// (no underflow), S = sum_{i<j} e_ij; lunif = log(S / P) - t m over the P
// pairs, and dlunif/dx_i = -2t / S * (x_i sum_j e_ij - sum_j e_ij x_j)
// (e_ii = 0).
struct Uniformity {
  double value = 0;
  at::Tensor grad;
};

Uniformity uniformity_aten(const at::Tensor& x, const AlignmentUniformityOptions& o, bool grad) {
  const int64_t n = x.size(0);
  at::Tensor s = x.pow(2).sum(1);
  at::Tensor d2 = at::mm(x, x.t()).mul_(-2.0).add_(s.unsqueeze(1)).add_(s.unsqueeze(0)).clamp_min_(0.0);
  at::Tensor off = ~at::eye(n, x.options().dtype(at::kBool));
  const double m = at::where(off, d2, at::full({}, std::numeric_limits<double>::infinity(), d2.options()))
                       .min()
                       .item<double>();
  at::Tensor e = d2.sub_(m).mul_(-o.t).exp_();
  e.fill_diagonal_(0);
  const double sum = e.sum().item<double>() / 2.0, pairs = 0.5 * static_cast<double>(n) * static_cast<double>(n - 1);
  Uniformity u;
  u.value = std::log(sum / pairs) - o.t * m;
  if (grad) u.grad = (x * e.sum(1, true) - at::mm(e, x)).mul_(-2.0 * o.t / sum);
  return u;
}

// The same on the CPU: the Gram matrix from syrk, then two passes over it in
// place (the distances and their minimum; the exponentials and row sums).
template <typename T>
Uniformity uniformity_cpu(const at::Tensor& x, const AlignmentUniformityOptions& o, bool grad) {
  const int64_t n = x.size(0), d = x.size(1);
  at::Tensor g = at::empty({n, n}, x.options());
  T* e = g.data_ptr<T>();
  const T* xp = x.data_ptr<T>();
  blas::gram(xp, e, n, d);
  std::vector<double> sq(static_cast<size_t>(n)), row_min(static_cast<size_t>(n)), row_sum(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) sq[static_cast<size_t>(i)] = static_cast<double>(e[i * n + i]);
  const int64_t grain = std::max<int64_t>(1, 32768 / n);
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T* row = e + i * n;
      double mn = std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < n; ++j) {
        const double v = std::max(0.0, sq[static_cast<size_t>(i)] + sq[static_cast<size_t>(j)] - 2.0 * static_cast<double>(row[j]));
        row[j] = static_cast<T>(v);
        if (j != i && v < mn) mn = v;
      }
      row_min[static_cast<size_t>(i)] = mn;
    }
  });
  const double m = *std::min_element(row_min.begin(), row_min.end());
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T* row = e + i * n;
      double total = 0;
      for (int64_t j = 0; j < n; ++j) {
        const T v = j == i ? T(0) : static_cast<T>(std::exp(-o.t * (static_cast<double>(row[j]) - m)));
        row[j] = v;
        total += v;
      }
      row_sum[static_cast<size_t>(i)] = total;
    }
  });
  double sum = 0;
  for (double v : row_sum) sum += v;
  sum /= 2.0;
  const double pairs = 0.5 * static_cast<double>(n) * static_cast<double>(n - 1);
  Uniformity u;
  u.value = std::log(sum / pairs) - o.t * m;
  if (grad) {
    u.grad = at::empty({n, d}, x.options());
    T* gp = u.grad.data_ptr<T>();
    blas::mm(e, false, xp, false, gp, n, d, n);
    const double k = -2.0 * o.t / sum;
    for (int64_t i = 0; i < n; ++i) {
      const double rs = row_sum[static_cast<size_t>(i)];
      for (int64_t c = 0; c < d; ++c) {
        gp[i * d + c] = static_cast<T>(k * (static_cast<double>(xp[i * d + c]) * rs - static_cast<double>(gp[i * d + c])));
      }
    }
  }
  return u;
}

Uniformity uniformity(const at::Tensor& x, const AlignmentUniformityOptions& o, bool grad) {
  if (!x.device().is_cpu()) return uniformity_aten(x, o, grad);
  return x.scalar_type() == at::kFloat ? uniformity_cpu<float>(x, o, grad) : uniformity_cpu<double>(x, o, grad);
}

// normalize's backward: (g - xh (g . xh)) / |z| where |z| >= eps, g / eps where not.
at::Tensor normalize_backward(const at::Tensor& g, const at::Tensor& xh, const at::Tensor& norm) {
  at::Tensor along = (g * xh).sum(1, true);
  return at::where(norm >= kNormalizeEps, (g - xh * along) / norm, g / kNormalizeEps);
}

// The hand-derived form, any device. Alignment: n_i = |x_i - y_i|, its
// gradient alpha n_i^(alpha - 2) (x_i - y_i) / N with respect to x_i (0 where
// n_i = 0, as the norm's gradient is there) and the opposite for y_i.
AlignmentUniformityResult direct(const at::Tensor& z1, const at::Tensor& z2, const AlignmentUniformityOptions& o) {
  at::NoGradGuard no_grad;
  const double inv_n = 1.0 / static_cast<double>(z1.size(0));
  at::Tensor n1 = z1.norm(2, 1, true), n2 = z2.norm(2, 1, true);
  at::Tensor x = z1 / n1.clamp_min(kNormalizeEps), y = z2 / n2.clamp_min(kNormalizeEps);
  at::Tensor diff = x - y;
  at::Tensor dist = diff.norm(2, 1, true);
  AlignmentUniformityResult r;
  r.alignment = dist.pow(o.alpha).sum().item<double>() * inv_n;
  Uniformity ux = uniformity(x, o, o.grad), uy = uniformity(y, o, o.grad);
  r.uniformity = 0.5 * (ux.value + uy.value);
  r.loss = r.alignment + o.lambda * r.uniformity;
  if (o.grad) {
    at::Tensor k = at::where(dist > 0, o.alpha * inv_n * dist.pow(o.alpha - 2.0), at::zeros_like(dist));
    at::Tensor ga = diff.mul_(k);
    r.grad1 = normalize_backward(ux.grad.mul_(0.5 * o.lambda).add_(ga), x, n1);
    r.grad2 = normalize_backward(uy.grad.mul_(0.5 * o.lambda).sub_(ga), y, n2);
  }
  return r;
}

}  // namespace

AlignmentUniformityResult alignment_uniformity_loss(const at::Tensor& z1, const at::Tensor& z2,
                                                    const AlignmentUniformityOptions& o) {
  check_loss_inputs(z1, z2, true, o.check_finite, "z1", "z2");
  if (z1.size(0) < 2) {
    throw_range_error("z1: uniformity's mean over pairs of rows needs N >= 2, got N = " + std::to_string(z1.size(0)));
  }
  AlignmentUniformityResult r = fused_enabled() ? direct(z1.contiguous(), z2.contiguous(), o) : reference(z1, z2, o);
  place_gradient(r.grad1, o.out_grad1);
  place_gradient(r.grad2, o.out_grad2);
  return r;
}

}  // namespace pairloss
