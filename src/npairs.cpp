// The N-pairs loss for one and many ranks: the checks and targets, then the
// CPU kernels (fused.h, chunked.h; under a group after the gather, as
// open_clip's ClipLoss computes it) or LibTorch autograd on the reference
// expression (npairs_reference, one expression for one and many ranks), and
// under a group the shared tail that sums each rank's share (sum_shares).
#include "npairs.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "chunked.h"
#include "errors.h"
#include "fused.h"
#include "ops.h"
#include "process_group.h"

namespace pairloss {

namespace {

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

// This rank's `rows` rows of `t`, a matrix over every rank's rows in rank order.
at::Tensor own_rows(const at::Tensor& t, int64_t rank, int64_t rows) { return t.narrow(0, rank * rows, rows).clone(); }

// The tail of the group path with local_loss, for the kernels and the
// reference path alike: this rank's share of the global loss (the mean over
// all W*N rows is the mean of the ranks' means) and of dloss/dtemperature,
// `share` and `grad_temperature` ([1] each), summed over the ranks with the
// gradients. With gather_with_grad, `grad1` / `grad2` are this rank's
// gradients with respect to every gathered row ([W*N, D], [W*M, D]): summed
// over the ranks, this rank's slice is the exact gradient of the global loss;
// without it (open_clip's cheap mode: the gathered columns are constants),
// its gradients with respect to its own rows, returned as they are. The
// collectives and their layout are the same whichever path a rank took.
NpairsResult sum_shares(ProcessGroup& g, const at::Tensor& share, const at::Tensor& grad_temperature,
                        const at::Tensor& grad1, const at::Tensor& grad2, const NpairsOptions& o, int64_t n,
                        int64_t m) {
  at::NoGradGuard no_grad;
  NpairsResult r;
  if (!o.grad) {
    r.loss = sum_over_ranks(&g, share, "npairsLoss: all-reduce of the loss").item<double>();
    return r;
  }
  if (!o.gather_with_grad) {
    at::Tensor total = sum_over_ranks(&g, at::cat({share, grad_temperature}), "npairsLoss: all-reduce of the loss");
    r.grad1 = grad1;
    r.grad2 = grad2;
    r.loss = total[0].item<double>();
    r.grad_temperature = total[1].item<double>();
    return r;
  }
  const int64_t w = g.world_size(), rank = g.rank(), d = grad1.size(1);
  at::Tensor total = sum_over_ranks(&g, at::cat({grad1.reshape({-1}), grad2.reshape({-1}), share, grad_temperature}),
                                    "npairsLoss: all-reduce of gradients");
  const int64_t s1 = w * n * d, s2 = w * m * d;
  r.grad1 = own_rows(total.narrow(0, 0, s1).view({w * n, d}), rank, n);
  r.grad2 = own_rows(total.narrow(0, s1, s2).view({w * m, d}), rank, m);
  r.loss = total[s1 + s2].item<double>();
  r.grad_temperature = total[s1 + s2 + 1].item<double>();
  return r;
}

// npairs_loss under a group from the same local computation as W = 1, in
// open_clip's shape (ClipLoss: gather_features, then the local loss). `all1`,
// `all2`: every rank's rows in rank order; `row_target` / `col_target`: the
// targets of the rows computed among the gathered columns. Empty where the
// reference path answers (as npairs_kernels); the collectives after the
// gather are the reference path's (sum_shares), so ranks may take either.
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
      r->grad1 = own_rows(r->grad1, rank, n);
      r->grad2 = own_rows(r->grad2, rank, m);
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
  // this rank's share of the global loss, with its gradients
  const double half = o.symmetric ? 0.5 : 1.0;
  const double k = half * (o.reduction == Reduction::Mean ? 1.0 / static_cast<double>(w) : 1.0);
  double share = k * (a->loss + (b ? b->loss : 0.0));
  if (o.l2_reg > 0.0) {
    // Sohn's penalty over the rows computed (a mean, whatever the reduction)
    const double s1 = x1.to(at::kDouble).pow(2).sum().item<double>(), s2 = x2.to(at::kDouble).pow(2).sum().item<double>();
    share += 0.25 * o.l2_reg * (s1 / n + s2 / m) / static_cast<double>(w);
  }
  const at::TensorOptions opts = x1.options();
  const at::Tensor share_t = at::full({1}, share, opts);
  if (!o.grad) {
    NpairsResult r = sum_shares(g, share_t, at::Tensor(), at::Tensor(), at::Tensor(), o, n, m);
    if (o.return_similarity) r.similarity = a->similarity;
    return r;
  }
  const double gt = k * (*a->grad_temperature + (b ? *b->grad_temperature : 0.0));
  // dloss/dx of this rank's rows: from its row-wise term, its column-wise term, the penalty
  at::Tensor g1 = a->grad1 * k, g2 = b ? b->grad1 * k : at::zeros({m, d}, opts);
  if (o.l2_reg > 0.0) {
    g1.add_(x1, 0.5 * o.l2_reg / (static_cast<double>(n) * w));
    g2.add_(x2, 0.5 * o.l2_reg / (static_cast<double>(m) * w));
  }
  if (o.gather_with_grad) {
    // with respect to every gathered row: the column terms of both products
    at::Tensor own1 = g1, own2 = g2;
    g1 = b ? b->grad2 * k : at::zeros({w * n, d}, opts);
    g2 = a->grad2 * k;
    g1.narrow(0, rank * n, n).add_(own1);
    g2.narrow(0, rank * m, m).add_(own2);
  }
  NpairsResult r = sum_shares(g, share_t, at::full({1}, gt, opts), g1, g2, o, n, m);
  if (o.return_similarity) r.similarity = a->similarity;
  return r;
}

// N-pairs' reference path, LibTorch autograd on one expression for one and
// many ranks (open_clip's ClipLoss: where the logits come from is the only
// difference). `all1`, `all2`: every rank's rows in rank order (without a
// group, `g` null: x1 and x2 themselves); `row_target`: the targets of the
// rows computed among all columns; `col_target` (symmetric): those of the
// columns, as rows of the transposed problem. Every rank computes all rows
// (one rank, or without local_loss) or its own against all columns.
NpairsResult npairs_reference(const at::Tensor& x1_in, const at::Tensor& x2_in, const at::Tensor& all1,
                              const at::Tensor& all2, const at::Tensor& row_target, const at::Tensor& col_target,
                              const NpairsOptions& o, ProcessGroup* g) {
  const int64_t w = g ? g->world_size() : 1, rank = g ? g->rank() : 0;
  const int64_t n = x1_in.size(0), m = x2_in.size(0);
  const bool all_rows = !g || !o.local_loss;

  at::AutoGradMode grad_mode(o.grad);
  at::Tensor temperature = autograd_leaf(at::scalar_tensor(o.temperature, x1_in.options()), o.grad);
  // what autograd differentiates against, the rows computed, and all columns
  at::Tensor leaf1, leaf2, rows1, rows2, cols1, cols2;
  if (all_rows) {
    // under a group every rank computes the whole global loss; x_r reaches it through its slice
    leaf1 = rows1 = cols1 = autograd_leaf(all1, o.grad);
    leaf2 = rows2 = cols2 = autograd_leaf(all2, o.grad);
  } else if (o.gather_with_grad) {
    // this rank's rows against all columns, differentiated through every gathered copy
    leaf1 = cols1 = autograd_leaf(all1, o.grad);
    leaf2 = cols2 = autograd_leaf(all2, o.grad);
    rows1 = leaf1.narrow(0, rank * n, n);
    rows2 = leaf2.narrow(0, rank * m, m);
  } else {
    // open_clip without gather_with_grad: the gathered columns are constants
    leaf1 = rows1 = autograd_leaf(x1_in, o.grad);
    leaf2 = rows2 = autograd_leaf(x2_in, o.grad);
    cols1 = all1;
    cols2 = all2;
  }

  // similarity of the rows against all columns: cosine (the original
  // answer's F.normalize + matmul) or Sohn's inner products
  auto similarity_of = [&](const at::Tensor& rows, const at::Tensor& cols) {
    return o.similarity == Similarity::Cosine
               ? at::matmul(normalize(rows, 2.0, 1, o.eps), normalize(cols, 2.0, 1, o.eps).t())
               : at::matmul(rows, cols.t());
  };
  at::Tensor similarity = similarity_of(rows1, cols2);
  at::Tensor logits = similarity / temperature;
  // cross entropy against the targets, without each row's own view where
  // excludeSelf (row 0's among the columns: this rank's first, rank * M)
  at::Tensor loss;
  if (o.exclude_self) {
    auto [kept, kept_target] = drop_self(logits, row_target, all_rows ? 0 : rank * m);
    loss = cross_entropy(kept, kept_target, o.reduction, o.label_smoothing);
  } else {
    loss = cross_entropy(logits, row_target, o.reduction, o.label_smoothing);
  }
  if (o.symmetric) {
    // CLIP: the mean of the row-wise and the column-wise cross entropies;
    // the column-wise term of this rank's x2 rows against all x1 (all rows: logits.T)
    at::Tensor logits_t = all_rows ? logits.t() : similarity_of(rows2, cols1) / temperature;
    loss = (loss + cross_entropy(logits_t, col_target, o.reduction, o.label_smoothing)) / 2;
  }
  // Sohn (2016) / tf.contrib npairs_loss: 0.25 * lambda * (mean |x1|^2 + mean
  // |x2|^2), over the rows computed (a mean, whatever the reduction)
  at::Tensor penalty;
  if (o.l2_reg > 0.0) {
    penalty = 0.25 * o.l2_reg * (rows1.pow(2).sum(1).mean() + rows2.pow(2).sum(1).mean());
  }

  NpairsResult r;
  if (all_rows) {
    if (penalty.defined()) loss = loss + penalty;
    r.loss = loss.item<double>();
    if (o.grad) {
      auto grads = torch::autograd::grad({loss}, {leaf1, leaf2, temperature});
      r.grad1 = g ? own_rows(grads[0], rank, n) : grads[0];
      r.grad2 = g ? own_rows(grads[1], rank, m) : grads[1];
      r.grad_temperature = grads[2].item<double>();
    }
  } else {
    // this rank's share of the global loss, summed over the ranks with its gradients
    at::Tensor share = o.reduction == Reduction::Mean ? loss / static_cast<double>(w) : loss;
    if (penalty.defined()) share = share + penalty / static_cast<double>(w);
    if (!o.grad) {
      r = sum_shares(*g, share.detach().reshape({1}), at::Tensor(), at::Tensor(), at::Tensor(), o, n, m);
    } else {
      // (without symmetric, gatherWithGrad: false leaves x2 out of this rank's share)
      auto grads =
          torch::autograd::grad({share}, {leaf1, leaf2, temperature}, {}, c10::nullopt, false, /*allow_unused=*/true);
      for (size_t i = 0; i < 2; ++i) {
        if (!grads[i].defined()) grads[i] = at::zeros_like(i == 0 ? leaf1 : leaf2);
      }
      r = sum_shares(*g, share.detach().reshape({1}), grads[2].reshape({1}), grads[0], grads[1], o, n, m);
    }
  }
  if (o.return_similarity) r.similarity = similarity.detach();
  return r;
}

// npairs_loss under a group, on the group's thread (see NpairsOptions):
// gather, the targets among the gathered columns, then the kernels or the
// reference path. `target_in`: this rank's checked targets, or undefined for
// the default.
NpairsResult npairs_loss_group(const at::Tensor& x1_in, const at::Tensor& x2_in, const at::Tensor& target_in,
                               const NpairsOptions& o, ProcessGroup& g) {
  const int64_t w = g.world_size(), rank = g.rank();
  const int64_t n = x1_in.size(0), m = x2_in.size(0);
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
  return npairs_reference(x1_in, x2_in, all1, all2, row_target, col_target, o, &g);
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
  // the reference path: LibTorch autograd, one process (CLIP's column-wise
  // targets: the transpose of the row-wise ones)
  const at::Tensor col_target = o.symmetric ? column_target(target, n) : at::Tensor();
  return npairs_reference(x1_in, x2_in, x1_in, x2_in, target, col_target, o, nullptr);
}

}  // namespace pairloss
