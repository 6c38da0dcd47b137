// Barlow Twins' correlation loss, one or many ranks: the correlation matrix
// of the batch-normalised views, (C - I)^2 weighted and summed. Mode
// 'samples' is the original answer's correlation_loss_func (the short
// PyTorch answer pairloss grew from; docs/DESIGN.md), mode 'features' the
// paper's; CPU without a group: fused.cpp's kernels, elsewhere LibTorch
// autograd on the expression below.
#include "barlow_twins.h"

#include <string>
#include <vector>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "errors.h"
#include "fused.h"
#include "ops.h"
#include "process_group.h"

namespace pairloss {

namespace {

// The correlation matrix with the batch's own statistics (BatchNorm1d in
// training mode, no affine parameters): the one expression of both modes.
at::Tensor correlation_matrix(const at::Tensor& z1, const at::Tensor& z2, const CorrelationOptions& o) {
  const int64_t n = z1.size(0);
  if (o.mode == CorrelationMode::Samples) {
    // correlation_loss_func: bn = BatchNorm1d(N, affine=False); z = bn(z.T).T; corr = z1 @ z2.T / N
    at::Tensor z1n = batch_norm1d(z1.t(), o.eps).t();
    at::Tensor z2n = batch_norm1d(z2.t(), o.eps).t();
    return at::matmul(z1n, z2n.t()) / n;
  }
  // Barlow Twins: bn = BatchNorm1d(D, affine=False); corr = bn(z1).T @ bn(z2) / N
  at::Tensor z1n = batch_norm1d(z1, o.eps);
  at::Tensor z2n = batch_norm1d(z2, o.eps);
  return at::matmul(z1n.t(), z2n) / n;
}

// The loss from the correlation matrix: (C - I)^2 with the off-diagonal
// entries weighted by lambda, summed and scaled. `cdif` receives (C - I)^2.
at::Tensor correlation_tail(const at::Tensor& corr, const CorrelationOptions& o, at::Tensor& cdif) {
  const int64_t k = corr.size(0);
  at::Tensor eye = at::eye(k, corr.options().requires_grad(false));
  cdif = (corr - eye).pow(2);
  at::Tensor weight = at::full({k, k}, o.lambda, corr.options().requires_grad(false));
  weight.fill_diagonal_(1.0);
  return o.scale * (cdif * weight).sum();
}

// onDiagonal and offDiagonal from (C - I)^2.
void diagonal_terms(const at::Tensor& cdif, CorrelationResult& r) {
  at::NoGradGuard no_grad;
  at::Tensor c = cdif.detach();
  r.on_diagonal = c.diagonal().sum().item<double>();
  r.off_diagonal = c.clone().fill_diagonal_(0).sum().item<double>();
}

// correlation_loss under a group, on the group's thread. Autograd runs on
// each side of the collectives, never through them, so every collective runs
// here, in the same order on every rank.
CorrelationResult correlation_loss_group(const at::Tensor& z1_in, const at::Tensor& z2_in,
                                         const CorrelationOptions& o, ProcessGroup& g) {
  const int64_t w = g.world_size(), n = z1_in.size(0);
  const bool samples = o.mode == CorrelationMode::Samples;
  const bool sync = !samples && o.sync_batch_norm;
  if (!samples && !sync && n < 2) {
    throw_range_error("mode 'features' standardises each feature over this rank's batch and needs N >= 2, got N = " +
                      std::to_string(n) + " (syncBatchNorm: true uses the global batch)");
  }
  const double total = static_cast<double>(w * n);

  at::AutoGradMode grad_mode(o.grad);
  at::Tensor z1 = autograd_leaf(z1_in, o.grad), z2 = autograd_leaf(z2_in, o.grad);
  at::Tensor mean, var, mean_leaf, var_leaf, zs;
  at::Tensor corr;  // this rank's matrix, with its autograd history
  if (!sync) {
    // with this rank's own batch statistics, as without a group
    corr = correlation_matrix(z1, z2, o);
  } else {
    // SyncBatchNorm: each feature's mean and biased variance over all W*N rows
    zs = at::stack({z1, z2});  // [2, N, D]
    {
      at::NoGradGuard no_grad;
      at::Tensor zd = zs.detach();
      mean = sum_over_ranks(&g, zd.sum(1), "correlationLoss: batch mean") / total;  // [2, D]
      var = sum_over_ranks(&g, (zd - mean.unsqueeze(1)).pow(2).sum(1), "correlationLoss: batch variance") / total;
    }
    mean_leaf = autograd_leaf(mean, o.grad);
    var_leaf = autograd_leaf(var, o.grad);
    at::Tensor zn = (zs - mean_leaf.unsqueeze(1)) * at::rsqrt(var_leaf.unsqueeze(1) + o.eps);
    corr = at::matmul(zn[0].t(), zn[1]) / n;
  }
  // correlation_loss_func: dist.all_reduce(corr); corr /= world_size
  at::Tensor global = autograd_leaf(mean_over_ranks(&g, corr.detach(), "correlationLoss: all-reduce of corr"), o.grad);

  at::Tensor cdif;
  at::Tensor loss = correlation_tail(global, o, cdif);
  CorrelationResult r;
  r.loss = loss.item<double>();
  diagonal_terms(cdif, r);
  if (!o.grad) return r;

  // correlation_loss_func's autograd: this rank's corr reaches the loss through corr / W
  at::Tensor d_global = torch::autograd::grad({loss}, {global})[0];
  std::vector<at::Tensor> inputs{z1, z2};
  if (sync) {
    inputs.push_back(mean_leaf);
    inputs.push_back(var_leaf);
  }
  auto grads = torch::autograd::grad({corr}, inputs, {d_global / static_cast<double>(w)});
  r.grad1 = grads[0];
  r.grad2 = grads[1];
  if (sync) {
    // the statistics depend on every rank's rows: their gradients summed over
    // the ranks, chained through mean = sum(z) / WN and var = sum((z - mean)^2) / WN
    at::NoGradGuard no_grad;
    at::Tensor stats = sum_over_ranks(&g, at::stack({grads[2], grads[3]}), "correlationLoss: statistics gradient");
    at::Tensor d_mean = stats[0].unsqueeze(1), d_var = stats[1].unsqueeze(1);  // [2, 1, D]
    at::Tensor dz = d_mean / total + d_var * 2.0 * (zs.detach() - mean.unsqueeze(1)) / total;
    r.grad1 = r.grad1 + dz[0];
    r.grad2 = r.grad2 + dz[1];
  }
  return r;
}

}  // namespace

CorrelationResult correlation_loss(const at::Tensor& z1_in, const at::Tensor& z2_in,
                                   const CorrelationOptions& o) {
  check_loss_inputs(z1_in, z2_in, true, o.check_finite, "z1", "z2");
  const bool samples = o.mode == CorrelationMode::Samples;
  if (o.group) {
    if (samples && o.sync_batch_norm) {
      throw_range_error("syncBatchNorm applies to mode 'features' (in mode 'samples' each sample is standardised "
                        "over its own features, with no batch statistics to share)");
    }
    CorrelationResult r;
    // on the group's thread, so that the loss's collectives stay together in call order
    o.group->run([&] { r = correlation_loss_group(z1_in, z2_in, o, *o.group); });
    return r;
  }

  // CPU without a group: the hand-derived kernels (fused.cpp).
  if (fused_enabled() && z1_in.device().is_cpu()) return correlation_fused(z1_in, z2_in, o);

  at::AutoGradMode grad_mode(o.grad);
  at::Tensor z1 = autograd_leaf(z1_in, o.grad), z2 = autograd_leaf(z2_in, o.grad);
  at::Tensor corr = correlation_matrix(z1, z2, o);
  at::Tensor cdif;
  at::Tensor loss = correlation_tail(corr, o, cdif);

  CorrelationResult r;
  r.loss = loss.item<double>();
  diagonal_terms(cdif, r);
  if (o.grad) {
    auto grads = torch::autograd::grad({loss}, {z1, z2});
    r.grad1 = grads[0];
    r.grad2 = grads[1];
  }
  return r;
}

}  // namespace pairloss
