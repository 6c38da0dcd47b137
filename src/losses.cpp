#include "losses.h"

#include <cmath>
#include <string>
#include <vector>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "errors.h"
#include "fused.h"

namespace pairloss {

namespace {

void check_pair(const at::Tensor& a, const at::Tensor& b, const char* name_a, const char* name_b) {
  check_matrix(a, name_a);
  check_matrix(b, name_b);
  if (a.scalar_type() != b.scalar_type()) {
    throw_type_error(std::string(name_b) + " must have the dtype of " + name_a + " (" +
                     std::string(c10::toString(a.scalar_type())) + "), got " +
                     c10::toString(b.scalar_type()));
  }
  if (a.device() != b.device()) {
    throw_range_error(std::string(name_a) + " and " + name_b + " must be on the same device");
  }
  if (a.size(1) != b.size(1)) {
    throw_range_error(std::string(name_a) + " and " + name_b +
                      " must have the same number of columns D, got " + std::to_string(a.size(1)) +
                      " and " + std::to_string(b.size(1)));
  }
  if (a.size(0) == 0) throw_range_error(std::string(name_a) + " is an empty batch (N = 0)");
  if (b.size(0) == 0) throw_range_error(std::string(name_b) + " is an empty batch (0 rows)");
}

void check_positive_finite(double v, const char* name) {
  if (!(v > 0.0) || !std::isfinite(v)) {
    throw_range_error(std::string(name) + " must be a finite number > 0, got " + std::to_string(v));
  }
}

void check_nonnegative_finite(double v, const char* name) {
  if (!(v >= 0.0) || !std::isfinite(v)) {
    throw_range_error(std::string(name) + " must be a finite number >= 0, got " + std::to_string(v));
  }
}

// A leaf that autograd differentiates with respect to (or the tensor itself).
at::Tensor leaf(const at::Tensor& t, bool grad) {
  at::Tensor l = t.detach();
  if (grad) l.requires_grad_(true);
  return l;
}

// Column-wise targets of a symmetric loss: the transpose of the row-wise ones.
at::Tensor column_target(const at::Tensor& target, int64_t n) {
  if (at::isFloatingType(target.scalar_type())) return target.t();
  // Index targets must be a permutation of 0..N-1 for the columns to have one class each.
  auto inverse = at::full({n}, -1, target.options());
  inverse.index_put_({target}, at::arange(n, target.options()));
  if ((inverse < 0).any().item<bool>()) {
    throw_range_error("target must be a permutation of 0..N-1 when symmetric is true");
  }
  return inverse;
}

// Index targets: N classes in [0, M); probabilities: [N, M].
void check_target(const at::Tensor& target, int64_t n, int64_t m) {
  if (at::isFloatingType(target.scalar_type())) {
    if (target.dim() != 2 || target.size(0) != n || target.size(1) != m) {
      throw_range_error("target probabilities must be [N, M] = [" + std::to_string(n) + ", " + std::to_string(m) + "]");
    }
    return;
  }
  if (target.dim() != 1 || target.size(0) != n) {
    throw_range_error("target must hold N = " + std::to_string(n) + " class indices");
  }
  if (n > 0 && (target.min().item<int64_t>() < 0 || target.max().item<int64_t>() >= m)) {
    throw_range_error("target class indices must be in [0, " + std::to_string(m) + ")");
  }
}

}  // namespace

NpairsResult npairs_loss(const at::Tensor& x1_in, const at::Tensor& x2_in, const NpairsOptions& o) {
  check_pair(x1_in, x2_in, "x1", "x2");
  check_positive_finite(o.temperature, "temperature");
  check_nonnegative_finite(o.l2_reg, "l2Reg");
  check_positive_finite(o.eps, "eps");
  if (o.check_finite) {
    check_finite(x1_in, "x1");
    check_finite(x2_in, "x2");
  }
  const int64_t n = x1_in.size(0), m = x2_in.size(0);

  at::Tensor target = o.target;
  if (!target.defined()) {
    if (m < n) {
      throw_range_error("x2 must have at least as many rows as x1 (M >= N) for the default target, got N = " +
                        std::to_string(n) + ", M = " + std::to_string(m));
    }
    target = at::arange(n, x1_in.options().dtype(at::kLong));
  } else if (at::isFloatingType(target.scalar_type())) {
    target = target.to(x1_in.options());
  } else {
    target = target.to(x1_in.device(), at::kLong);
  }
  if (o.symmetric && m != n) {
    throw_range_error("symmetric needs as many rows in x2 as in x1, got N = " + std::to_string(n) +
                      ", M = " + std::to_string(m));
  }
  check_target(target, n, m);
  if (o.symmetric) column_target(target, n);  // index targets must be a permutation

  // CPU: the hand-derived kernels (fused.cpp); they give autograd's numbers.
  if (fused_enabled() && x1_in.device().is_cpu()) return npairs_fused(x1_in, x2_in, target, o);

  at::AutoGradMode grad_mode(o.grad);
  at::Tensor x1 = leaf(x1_in, o.grad), x2 = leaf(x2_in, o.grad);
  at::Tensor temperature = leaf(at::scalar_tensor(o.temperature, x1_in.options()), o.grad);

  // similarity: cosine (the seed's F.normalize + matmul) or Sohn's inner products
  at::Tensor similarity = o.similarity == Similarity::Cosine
                              ? at::matmul(normalize(x1, 2.0, 1, o.eps), normalize(x2, 2.0, 1, o.eps).t())
                              : at::matmul(x1, x2.t());
  at::Tensor logits = similarity / temperature;
  // cross entropy against row i -> class i (or the given targets)
  at::Tensor loss = cross_entropy(logits, target, o.reduction, o.label_smoothing);
  if (o.symmetric) {
    // CLIP: mean of the row-wise and the column-wise cross entropies
    at::Tensor loss_t = cross_entropy(logits.t(), column_target(target, n), o.reduction, o.label_smoothing);
    loss = (loss + loss_t) / 2;
  }
  if (o.l2_reg > 0.0) {
    // Sohn (2016) / tf.contrib npairs_loss: 0.25 * lambda * (mean |x1|^2 + mean |x2|^2)
    at::Tensor reg = x1.pow(2).sum(1).mean() + x2.pow(2).sum(1).mean();
    loss = loss + 0.25 * o.l2_reg * reg;
  }

  NpairsResult r;
  r.loss = loss.item<double>();
  if (o.grad) {
    auto grads = torch::autograd::grad({loss}, {x1, x2, temperature});
    r.grad1 = grads[0];
    r.grad2 = grads[1];
    r.grad_temperature = grads[2].item<double>();
  }
  if (o.return_similarity) r.similarity = similarity.detach();
  return r;
}

CorrelationResult correlation_loss(const at::Tensor& z1_in, const at::Tensor& z2_in,
                                   const CorrelationOptions& o) {
  check_pair(z1_in, z2_in, "z1", "z2");
  if (z1_in.size(0) != z2_in.size(0)) {
    throw_range_error("z1 and z2 must have the same number of rows N, got " +
                      std::to_string(z1_in.size(0)) + " and " + std::to_string(z2_in.size(0)));
  }
  if (!std::isfinite(o.lambda)) throw_range_error("lambda must be a finite number");
  if (!std::isfinite(o.scale)) throw_range_error("scale must be a finite number");
  check_positive_finite(o.eps, "eps");
  if (o.check_finite) {
    check_finite(z1_in, "z1");
    check_finite(z2_in, "z2");
  }
  const int64_t n = z1_in.size(0), d = z1_in.size(1);
  const bool samples = o.mode == CorrelationMode::Samples;
  // BatchNorm1d in training mode needs more than one value per channel.
  if (samples && d < 2) {
    throw_range_error("mode 'samples' standardises each sample over its D features and needs D >= 2, got D = " +
                      std::to_string(d));
  }
  if (!samples && n < 2) {
    throw_range_error("mode 'features' standardises each feature over the batch and needs N >= 2, got N = " +
                      std::to_string(n));
  }

  // CPU without a group: the hand-derived kernels (fused.cpp).
  if (fused_enabled() && z1_in.device().is_cpu() && !o.reduce_corr) return correlation_fused(z1_in, z2_in, o);

  at::AutoGradMode grad_mode(o.grad);
  at::Tensor z1 = leaf(z1_in, o.grad), z2 = leaf(z2_in, o.grad);
  at::Tensor corr;
  if (samples) {
    // the seed: bn = BatchNorm1d(N, affine=False); z = bn(z.T).T; corr = z1 @ z2.T / N
    at::Tensor z1n = batch_norm1d(z1.t(), o.eps).t();
    at::Tensor z2n = batch_norm1d(z2.t(), o.eps).t();
    corr = at::matmul(z1n, z2n.t()) / n;
  } else {
    // Barlow Twins: bn = BatchNorm1d(D, affine=False); corr = bn(z1).T @ bn(z2) / N
    at::Tensor z1n = batch_norm1d(z1, o.eps);
    at::Tensor z2n = batch_norm1d(z2, o.eps);
    corr = at::matmul(z1n.t(), z2n) / n;
  }
  // under a group: the mean over ranks of each rank's matrix
  if (o.reduce_corr) corr = o.reduce_corr(corr);

  const int64_t k = corr.size(0);
  at::Tensor eye = at::eye(k, corr.options().requires_grad(false));
  // (C - I)^2 with the off-diagonal entries weighted by lambda, summed and scaled
  at::Tensor cdif = (corr - eye).pow(2);
  at::Tensor weight = at::full({k, k}, o.lambda, corr.options().requires_grad(false));
  weight.fill_diagonal_(1.0);
  at::Tensor loss = o.scale * (cdif * weight).sum();

  CorrelationResult r;
  r.loss = loss.item<double>();
  {
    at::NoGradGuard no_grad;
    at::Tensor c = cdif.detach();
    r.on_diagonal = c.diagonal().sum().item<double>();
    r.off_diagonal = c.clone().fill_diagonal_(0).sum().item<double>();
  }
  if (o.grad) {
    auto grads = torch::autograd::grad({loss}, {z1, z2});
    r.grad1 = grads[0];
    r.grad2 = grads[1];
  }
  return r;
}

}  // namespace pairloss
