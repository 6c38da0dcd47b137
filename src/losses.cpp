#include "losses.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "chunked.h"
#include "errors.h"
#include "fused.h"

namespace pairloss {

namespace {

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
  if (target.device().is_cpu()) {
    // a loop over host memory: the tensor ops below cost ~10 us per call
    const at::Tensor t = target.contiguous();
    const int64_t* p = t.data_ptr<int64_t>();
    at::Tensor inverse = at::empty({n}, t.options());
    int64_t* q = inverse.data_ptr<int64_t>();
    std::fill(q, q + n, int64_t{-1});
    for (int64_t i = 0; i < n; ++i) {
      if (p[i] >= 0 && p[i] < n) q[p[i]] = i;
    }
    if (std::any_of(q, q + n, [](int64_t v) { return v < 0; })) {
      throw_range_error("target must be a permutation of 0..N-1 when symmetric is true");
    }
    return inverse;
  }
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
    PAIRLOSS_CHECK(target.dim() == 2 && target.size(0) == n && target.size(1) == m, "target must be [N, M]");
    return;
  }
  PAIRLOSS_CHECK(target.dim() == 1 && target.size(0) == n, "target must hold N class indices");
  bool in_range;
  if (target.device().is_cpu()) {
    const at::Tensor t = target.contiguous();
    const int64_t* p = t.data_ptr<int64_t>();
    in_range = std::all_of(p, p + n, [m](int64_t v) { return v >= 0 && v < m; });
  } else {
    in_range = target.min().item<int64_t>() >= 0 && target.max().item<int64_t>() < m;
  }
  PAIRLOSS_CHECK(in_range, "target class indices must be in [0, M)");
}

// The correlation matrix with the batch's own statistics (BatchNorm1d in
// training mode, no affine parameters): the one expression of both modes.
at::Tensor correlation_matrix(const at::Tensor& z1, const at::Tensor& z2, const CorrelationOptions& o) {
  const int64_t n = z1.size(0);
  if (o.mode == CorrelationMode::Samples) {
    // the seed: bn = BatchNorm1d(N, affine=False); z = bn(z.T).T; corr = z1 @ z2.T / N
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

// Targets of `blocks` consecutive blocks of N rows, the first block from rank
// `first`: each rank's own targets (classes among its M columns) become
// classes among the W * M gathered columns. `local` holds the blocks'
// targets one after the other ([blocks * N] indices or [blocks * N, M]
// probabilities).
at::Tensor place_targets(const at::Tensor& local, int64_t first, int64_t blocks, int64_t n, int64_t m, int64_t w) {
  if (at::isFloatingType(local.scalar_type())) {
    at::Tensor out = at::zeros({blocks * n, w * m}, local.options());
    for (int64_t b = 0; b < blocks; ++b) {
      out.narrow(0, b * n, n).narrow(1, (first + b) * m, m).copy_(local.narrow(0, b * n, n));
    }
    return out;
  }
  at::Tensor offset = (at::arange(first, first + blocks, local.options()) * m).repeat_interleave(n);
  return local + offset;
}

// excludeSelf: row i's own view (column i) must not be its target.
void check_self_left_out(const at::Tensor& target) {
  const int64_t n = target.size(0);
  bool on_self;
  if (at::isFloatingType(target.scalar_type())) {
    on_self = target.diagonal().ne(0).any().item<bool>();
  } else {
    on_self = target.eq(at::arange(n, target.options())).any().item<bool>();
  }
  if (on_self) {
    throw_range_error(std::string("excludeSelf: row i leaves out column i, its own view, which must not be its target") +
                      (at::isFloatingType(target.scalar_type()) ? " (target[i][i] must be 0)"
                                                                : " (the default target i -> i is; NT-Xent's is i -> (i + N) mod 2N)"));
  }
}

// SupCon's targets from class labels: row i uniform over the columns j with
// cols[j] == rows[i] (leaving out column offset + i with exclude_self); a
// row with no positive left is all zeros (it contributes 0, as the SupCon
// reference's mask_pos_pairs guard gives).
at::Tensor labels_target(const at::Tensor& rows, const at::Tensor& cols, bool exclude_self, int64_t offset,
                         const at::TensorOptions& options) {
  at::NoGradGuard no_grad;
  at::Tensor eq = rows.unsqueeze(1).eq(cols.unsqueeze(0)).to(options.dtype());
  if (exclude_self) eq.diagonal(offset).zero_();
  return eq.div_(eq.sum(1, true).clamp_min_(1));
}

// The reference path's exclude_self: logits [n, m] without column offset + i
// of row i, [n, m - 1], as lightly's NT-Xent drops the self-similarities
// (logits[~eye].view(n, -1)); the targets follow (index targets past the
// left-out column shift down by one).
std::pair<at::Tensor, at::Tensor> drop_self(const at::Tensor& logits, const at::Tensor& target, int64_t offset) {
  const int64_t n = logits.size(0), m = logits.size(1);
  at::Tensor keep = at::ones({n, m}, logits.options().dtype(at::kBool).requires_grad(false));
  keep.diagonal(offset).fill_(false);
  at::Tensor l = logits.masked_select(keep).view({n, m - 1});
  if (at::isFloatingType(target.scalar_type())) return {l, target.masked_select(keep).view({n, m - 1})};
  at::Tensor self = at::arange(offset, offset + n, target.options());
  return {l, target - target.gt(self).to(at::kLong)};
}

// open_clip's gather_features: every rank's embeddings in rank order, [W*N, D]
// and [W*M, D], without autograd history (the shape check before each
// collective makes N, M, D and the dtype agree). `loss` names the call in errors.
std::pair<at::Tensor, at::Tensor> gather_features(ProcessGroup& g, const at::Tensor& x1, const at::Tensor& x2,
                                                  const std::string& loss) {
  return {cat_over_ranks(&g, x1, loss + ": all-gather of x1"), cat_over_ranks(&g, x2, loss + ": all-gather of x2")};
}

// The local computation of N-pairs on CPU, from ce_kernels.h's building
// blocks: the fused kernels (fused.cpp) over the whole N x M matrix, or row
// blocks (chunked.cpp) where that matrix is too large to hold, unless the
// caller asked for it. Empty where the reference path (LibTorch autograd)
// answers: Sohn's 'dot' similarity has unbounded logits, where float32 softmax
// gradients are ill-conditioned and only PyTorch's own sequence of roundings
// reproduces PyTorch's answer; CUDA; D = 1 or a row with norm < eps.
std::optional<NpairsResult> npairs_kernels(const at::Tensor& x1, const at::Tensor& x2, const at::Tensor& target,
                                           const NpairsOptions& o) {
  if (!fused_enabled() || !x1.device().is_cpu() || o.similarity != Similarity::Cosine) return std::nullopt;
  // leaving out a column: row-wise, unsmoothed (ce::Problem::exclude_from)
  if (o.exclude_self && (o.symmetric || o.label_smoothing > 0.0 || x2.size(0) < 2)) return std::nullopt;
  if (!o.return_similarity && chunking_wanted(x1.size(0), x2.size(0), x1.element_size())) {
    return npairs_chunked(x1, x2, target, o);
  }
  return npairs_fused(x1, x2, target, o);
}

// npairs_loss under a group from the same local computation as W = 1, in
// open_clip's shape (ClipLoss: gather_features, then the local loss). `all1`,
// `all2`: every rank's rows in rank order; `row_target` / `col_target`: the
// targets of the rows computed among the gathered columns. Empty where the
// reference path answers (as npairs_kernels); the collectives after the
// gather are the reference path's, so ranks may take either.
std::optional<NpairsResult> npairs_group_kernels(const at::Tensor& x1, const at::Tensor& x2, const at::Tensor& all1,
                                                 const at::Tensor& all2, const at::Tensor& row_target,
                                                 const at::Tensor& col_target, const NpairsOptions& o,
                                                 ProcessGroup& g) {
  const int64_t w = g.world_size(), rank = g.rank();
  const int64_t n = x1.size(0), m = x2.size(0), d = x1.size(1);
  NpairsOptions local = o;
  local.group = nullptr;
  local.target = at::Tensor();
  local.out_grad1 = local.out_grad2 = at::Tensor();

  if (!o.local_loss) {
    // every rank computes the whole global loss: W = 1 on the gathered batch
    local.self_offset = 0;
    std::optional<NpairsResult> r = npairs_kernels(all1, all2, row_target, local);
    if (r && o.grad) {
      r->grad1 = r->grad1.narrow(0, rank * n, n).clone();
      r->grad2 = r->grad2.narrow(0, rank * m, m).clone();
    }
    return r;
  }

  // this rank's rows against every rank's columns, and (symmetric) CLIP's
  // column-wise term: this rank's x2 rows against every rank's x1
  local.symmetric = false;
  local.l2_reg = 0.0;
  local.self_offset = rank * m;  // row i's own view among the gathered columns
  std::optional<NpairsResult> a = npairs_kernels(x1, all2, row_target, local), b;
  if (!a) return a;
  if (o.symmetric) {
    local.return_similarity = false;
    b = npairs_kernels(x2, all1, col_target, local);
    if (!b) return b;
  }
  // this rank's share of the global loss (the mean over all W*N rows is the
  // mean of the ranks' means), summed over the ranks with its gradients
  const double half = o.symmetric ? 0.5 : 1.0;
  const double k = half * (o.reduction == Reduction::Mean ? 1.0 / static_cast<double>(w) : 1.0);
  double share = k * (a->loss + (b ? b->loss : 0.0));
  if (o.l2_reg > 0.0) {
    // Sohn's penalty over the rows computed (a mean, whatever the reduction)
    const double s1 = x1.to(at::kDouble).pow(2).sum().item<double>(), s2 = x2.to(at::kDouble).pow(2).sum().item<double>();
    share += 0.25 * o.l2_reg * (s1 / n + s2 / m) / static_cast<double>(w);
  }
  const at::TensorOptions opts = x1.options();
  NpairsResult r;
  if (o.return_similarity) r.similarity = a->similarity;
  if (!o.grad) {
    r.loss = sum_over_ranks(&g, at::full({1}, share, opts), "npairsLoss: all-reduce of the loss").item<double>();
    return r;
  }
  const double gt = k * (*a->grad_temperature + (b ? *b->grad_temperature : 0.0));
  // dloss/dx of this rank's rows: from its row-wise term, its column-wise term, the penalty
  at::Tensor own1 = a->grad1 * k, own2 = b ? b->grad1 * k : at::zeros({m, d}, opts);
  if (o.l2_reg > 0.0) {
    own1.add_(x1, 0.5 * o.l2_reg / (static_cast<double>(n) * w));
    own2.add_(x2, 0.5 * o.l2_reg / (static_cast<double>(m) * w));
  }
  at::Tensor scalars = at::tensor({share, gt}, opts);
  if (!o.gather_with_grad) {
    // open_clip without gather_with_grad: the gathered columns are constants
    at::Tensor total = sum_over_ranks(&g, scalars, "npairsLoss: all-reduce of the loss");
    r.grad1 = own1;
    r.grad2 = own2;
    r.loss = total[0].item<double>();
    r.grad_temperature = total[1].item<double>();
    return r;
  }
  // every rank's gradient with respect to every gathered row, summed over the
  // ranks: this rank's slice is the exact gradient of the global loss
  at::Tensor all_g1 = b ? b->grad2 * k : at::zeros({w * n, d}, opts);
  at::Tensor all_g2 = a->grad2 * k;
  all_g1.narrow(0, rank * n, n).add_(own1);
  all_g2.narrow(0, rank * m, m).add_(own2);
  at::Tensor total = sum_over_ranks(&g, at::cat({all_g1.reshape({-1}), all_g2.reshape({-1}), scalars}),
                                    "npairsLoss: all-reduce of gradients");
  const int64_t s1 = w * n * d, s2 = w * m * d;
  r.grad1 = total.narrow(0, 0, s1).view({w * n, d}).narrow(0, rank * n, n).clone();
  r.grad2 = total.narrow(0, s1, s2).view({w * m, d}).narrow(0, rank * m, m).clone();
  r.loss = total[s1 + s2].item<double>();
  r.grad_temperature = total[s1 + s2 + 1].item<double>();
  return r;
}

// npairs_loss under a group, on the group's thread (see NpairsOptions).
// `target_in`: this rank's checked targets, or undefined for the default.
NpairsResult npairs_loss_group(const at::Tensor& x1_in, const at::Tensor& x2_in, const at::Tensor& target_in,
                               const NpairsOptions& o, ProcessGroup& g) {
  const int64_t w = g.world_size(), rank = g.rank();
  const int64_t n = x1_in.size(0), m = x2_in.size(0), d = x1_in.size(1);
  auto [all1, all2] = gather_features(g, x1_in, x2_in, "npairsLoss");

  // targets of the rows this rank computes: its own N (localLoss) or all W*N
  const int64_t first = o.local_loss ? rank : 0, blocks = o.local_loss ? 1 : w;
  at::Tensor local_target;
  if (!target_in.defined()) {
    local_target = at::arange(n, x1_in.options().dtype(at::kLong)).repeat({blocks});
  } else if (o.local_loss) {
    local_target = target_in;
  } else {
    local_target = cat_over_ranks(&g, target_in, "npairsLoss: all-gather of target");
  }
  at::Tensor row_target, col_target;
  NpairsOptions kernel_options = o;
  at::Tensor all_labels, row_labels;
  if (o.labels.defined()) {
    // SupCon: positives among every rank's columns (M = N: x2's rows carry x1's labels)
    all_labels = cat_over_ranks(&g, o.labels, "npairsLoss: all-gather of labels");
    row_labels = o.local_loss ? o.labels : all_labels;
    if (!o.symmetric && o.label_smoothing == 0.0) {
      // the row kernel compares the labels itself (no target matrix)
      kernel_options.labels = row_labels;
      kernel_options.column_labels = all_labels;
    } else {
      row_target = labels_target(row_labels, all_labels, o.exclude_self, first * m, x1_in.options());
    }
    if (o.symmetric) col_target = labels_target(row_labels, all_labels, false, 0, x1_in.options());
  } else {
    row_target = place_targets(local_target, first, blocks, n, m, w);
  }
  if (o.symmetric && !o.labels.defined()) {
    // each block's columns belong to the rows whose targets they are (M = N)
    std::vector<at::Tensor> parts;
    for (int64_t b = 0; b < blocks; ++b) parts.push_back(column_target(local_target.narrow(0, b * n, n), n));
    col_target = place_targets(at::cat(parts), first, blocks, n, n, w);
  }
  if (auto r = npairs_group_kernels(x1_in, x2_in, all1, all2, row_target, col_target, kernel_options, g)) return *r;
  if (!row_target.defined()) row_target = labels_target(row_labels, all_labels, o.exclude_self, first * m, x1_in.options());

  // the reference path: LibTorch autograd on the same expression
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor temperature = leaf(at::scalar_tensor(o.temperature, x1_in.options()), o.grad);
  // what autograd differentiates against, the rows this rank computes, and all columns
  at::Tensor leaf1, leaf2, rows1, rows2, cols1, cols2;
  if (!o.local_loss) {
    // every rank computes the whole global loss; x_r reaches it through its slice
    leaf1 = rows1 = cols1 = leaf(all1, o.grad);
    leaf2 = rows2 = cols2 = leaf(all2, o.grad);
  } else if (o.gather_with_grad) {
    // this rank's rows against all columns, differentiated through every gathered copy
    leaf1 = cols1 = leaf(all1, o.grad);
    leaf2 = cols2 = leaf(all2, o.grad);
    rows1 = leaf1.narrow(0, rank * n, n);
    rows2 = leaf2.narrow(0, rank * m, m);
  } else {
    // open_clip without gather_with_grad: the gathered columns are constants
    leaf1 = rows1 = leaf(x1_in, o.grad);
    leaf2 = rows2 = leaf(x2_in, o.grad);
    cols1 = all1;
    cols2 = all2;
  }

  // similarity of the rows against all W*M columns
  at::Tensor similarity = o.similarity == Similarity::Cosine
                              ? at::matmul(normalize(rows1, 2.0, 1, o.eps), normalize(cols2, 2.0, 1, o.eps).t())
                              : at::matmul(rows1, cols2.t());
  at::Tensor logits = similarity / temperature;
  at::Tensor loss;
  if (o.exclude_self) {
    auto [kept, kept_target] = drop_self(logits, row_target, first * m);
    loss = cross_entropy(kept, kept_target, o.reduction, o.label_smoothing);
  } else {
    loss = cross_entropy(logits, row_target, o.reduction, o.label_smoothing);
  }
  if (o.symmetric) {
    // CLIP's column-wise term: this rank's x2 rows against all x1 (all rows: logits.T)
    at::Tensor logits_t;
    if (!o.local_loss) {
      logits_t = logits.t();
    } else {
      at::Tensor sim_t = o.similarity == Similarity::Cosine
                             ? at::matmul(normalize(rows2, 2.0, 1, o.eps), normalize(cols1, 2.0, 1, o.eps).t())
                             : at::matmul(rows2, cols1.t());
      logits_t = sim_t / temperature;
    }
    loss = (loss + cross_entropy(logits_t, col_target, o.reduction, o.label_smoothing)) / 2;
  }
  // Sohn's penalty over the rows computed (a mean, whatever the reduction)
  at::Tensor penalty;
  if (o.l2_reg > 0.0) {
    penalty = 0.25 * o.l2_reg * (rows1.pow(2).sum(1).mean() + rows2.pow(2).sum(1).mean());
  }

  NpairsResult r;
  if (o.return_similarity) r.similarity = similarity.detach();
  if (!o.local_loss) {
    if (penalty.defined()) loss = loss + penalty;
    r.loss = loss.item<double>();
    if (o.grad) {
      auto grads = torch::autograd::grad({loss}, {leaf1, leaf2, temperature});
      r.grad1 = grads[0].narrow(0, rank * n, n).clone();
      r.grad2 = grads[1].narrow(0, rank * m, m).clone();
      r.grad_temperature = grads[2].item<double>();
    }
    return r;
  }
  // this rank's share of the global loss (the mean over all W*N rows is the
  // mean of the ranks' means), summed over the ranks with its gradients
  at::Tensor share = o.reduction == Reduction::Mean ? loss / static_cast<double>(w) : loss;
  if (penalty.defined()) share = share + penalty / static_cast<double>(w);
  if (!o.grad) {
    r.loss = sum_over_ranks(&g, share.detach().reshape({1}), "npairsLoss: all-reduce of the loss").item<double>();
    return r;
  }
  // (without symmetric, gatherWithGrad: false leaves x2 out of this rank's share)
  auto grads = torch::autograd::grad({share}, {leaf1, leaf2, temperature}, {}, c10::nullopt, false, /*allow_unused=*/true);
  for (size_t i = 0; i < 2; ++i) {
    if (!grads[i].defined()) grads[i] = at::zeros_like(i == 0 ? leaf1 : leaf2);
  }
  at::NoGradGuard no_grad;
  if (o.gather_with_grad) {
    // every rank's gradient with respect to every gathered row, summed over
    // the ranks: this rank's slice is the exact gradient of the global loss
    at::Tensor packed = at::cat({grads[0].reshape({-1}), grads[1].reshape({-1}), share.detach().reshape({1}),
                                 grads[2].reshape({1})});
    at::Tensor total = sum_over_ranks(&g, packed, "npairsLoss: all-reduce of gradients");
    const int64_t s1 = w * n * d, s2 = w * m * d;
    r.grad1 = total.narrow(0, 0, s1).view({w * n, d}).narrow(0, rank * n, n).clone();
    r.grad2 = total.narrow(0, s1, s2).view({w * m, d}).narrow(0, rank * m, m).clone();
    r.loss = total[s1 + s2].item<double>();
    r.grad_temperature = total[s1 + s2 + 1].item<double>();
  } else {
    at::Tensor packed = at::cat({share.detach().reshape({1}), grads[2].reshape({1})});
    at::Tensor total = sum_over_ranks(&g, packed, "npairsLoss: all-reduce of the loss");
    r.grad1 = grads[0];
    r.grad2 = grads[1];
    r.loss = total[0].item<double>();
    r.grad_temperature = total[1].item<double>();
  }
  return r;
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
  at::Tensor z1 = leaf(z1_in, o.grad), z2 = leaf(z2_in, o.grad);
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
    mean_leaf = leaf(mean, o.grad);
    var_leaf = leaf(var, o.grad);
    at::Tensor zn = (zs - mean_leaf.unsqueeze(1)) * at::rsqrt(var_leaf.unsqueeze(1) + o.eps);
    corr = at::matmul(zn[0].t(), zn[1]) / n;
  }
  // the seed: dist.all_reduce(corr); corr /= world_size
  at::Tensor global = leaf(mean_over_ranks(&g, corr.detach(), "correlationLoss: all-reduce of corr"), o.grad);

  at::Tensor cdif;
  at::Tensor loss = correlation_tail(global, o, cdif);
  CorrelationResult r;
  r.loss = loss.item<double>();
  diagonal_terms(cdif, r);
  if (!o.grad) return r;

  // the seed's autograd: this rank's corr reaches the loss through corr / W
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

NpairsResult npairs_loss(const at::Tensor& x1_in, const at::Tensor& x2_in, const NpairsOptions& o) {
  check_loss_inputs(x1_in, x2_in, false, o.check_finite, "x1", "x2");
  if (o.check_finite && o.target.defined() && at::isFloatingType(o.target.scalar_type())) check_finite(o.target, "target");
  const int64_t n = x1_in.size(0), m = x2_in.size(0);
  if (o.labels.defined()) {
    PAIRLOSS_CHECK(!o.target.defined(), "labels and target exclude each other");
    PAIRLOSS_CHECK(m == n, "labels need M = N (x2's rows carry x1's labels)");
    PAIRLOSS_CHECK(o.labels.dim() == 1 && o.labels.size(0) == n && o.labels.scalar_type() == at::kLong &&
                       o.labels.device() == x1_in.device(),
                   "labels must be N int64 values on the inputs' device");
  }
  if (o.exclude_self) {
    PAIRLOSS_CHECK(m == n, "excludeSelf needs M = N");
    if (o.symmetric) throw_range_error("excludeSelf: cannot be combined with symmetric (each row already leaves out its own view)");
    if (o.label_smoothing > 0.0) throw_range_error("excludeSelf: cannot be combined with labelSmoothing");
    if (!o.group && n < 2) throw_range_error("excludeSelf: leaves no class for N = 1 (each row's only column is its own view)");
  }

  at::Tensor target = o.target;
  // SupCon's labels: row-wise and unsmoothed, the row kernel compares them
  // itself (no target matrix); else the probability target they make (the
  // group path builds its own from the gathered labels)
  const bool label_kernel = o.labels.defined() && !o.symmetric && o.label_smoothing == 0.0;
  if (o.labels.defined()) {
    if (!label_kernel && !o.group) target = labels_target(o.labels, o.labels, o.exclude_self, 0, x1_in.options());
  } else if (!target.defined()) {
    PAIRLOSS_CHECK(m >= n, "the default target needs M >= N");
    if (x1_in.device().is_cpu()) {
      target = at::empty({n}, at::kLong);
      std::iota(target.data_ptr<int64_t>(), target.data_ptr<int64_t>() + n, int64_t{0});
    } else {
      target = at::arange(n, x1_in.options().dtype(at::kLong));
    }
  } else if (at::isFloatingType(target.scalar_type())) {
    target = target.to(x1_in.options());
  } else {
    target = target.to(x1_in.device(), at::kLong);
  }
  PAIRLOSS_CHECK(!o.symmetric || m == n, "symmetric needs M = N");
  if (target.defined()) check_target(target, n, m);
  if (o.symmetric && !o.labels.defined()) column_target(target, n);  // index targets must be a permutation
  if (o.exclude_self && !o.labels.defined()) check_self_left_out(target);
  if (o.group) {
    NpairsResult r;
    // on the group's thread, so that the loss's collectives stay together in call order
    o.group->run([&] { r = npairs_loss_group(x1_in, x2_in, o.target.defined() ? target : at::Tensor(), o, *o.group); });
    return r;
  }

  // CPU: the hand-derived kernels; they give autograd's numbers
  if (auto r = npairs_kernels(x1_in, x2_in, target, o)) return *r;
  if (!target.defined()) target = labels_target(o.labels, o.labels, o.exclude_self, 0, x1_in.options());

  // the reference path: LibTorch autograd on the seed's expression
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor x1 = leaf(x1_in, o.grad), x2 = leaf(x2_in, o.grad);
  at::Tensor temperature = leaf(at::scalar_tensor(o.temperature, x1_in.options()), o.grad);

  // similarity: cosine (the seed's F.normalize + matmul) or Sohn's inner products
  at::Tensor similarity = o.similarity == Similarity::Cosine
                              ? at::matmul(normalize(x1, 2.0, 1, o.eps), normalize(x2, 2.0, 1, o.eps).t())
                              : at::matmul(x1, x2.t());
  at::Tensor logits = similarity / temperature;
  // cross entropy against row i -> class i (or the given targets), without
  // each row's own view where excludeSelf
  at::Tensor loss;
  if (o.exclude_self) {
    auto [kept, kept_target] = drop_self(logits, target, 0);
    loss = cross_entropy(kept, kept_target, o.reduction, o.label_smoothing);
  } else {
    loss = cross_entropy(logits, target, o.reduction, o.label_smoothing);
  }
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
  at::Tensor z1 = leaf(z1_in, o.grad), z2 = leaf(z2_in, o.grad);
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
