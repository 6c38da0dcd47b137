// The two losses with their gradients. Each one is written as the PyTorch
// reference computes it (the seed, open_clip, barlowtwins), and its gradient
// is LibTorch autograd's for that same expression, so values and gradients
// match PyTorch's to the last bits the same kernels give.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <optional>
#include <string>

#include "ops.h"
#include "process_group.h"

namespace pairloss {

enum class Similarity { Cosine, Dot };

struct NpairsOptions {
  // Class indices [N] (int64) or probabilities [N, M]; undefined: row i -> class i.
  at::Tensor target;
  // logits = similarity / temperature; must be > 0.
  double temperature = 1.0;
  // Mean of the row-wise and column-wise cross entropies (CLIP).
  bool symmetric = false;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;
  // Cosine (normalised rows) or Sohn's unnormalised inner products.
  Similarity similarity = Similarity::Cosine;
  // Sohn's L2 penalty: 0.25 * l2_reg * (mean_i |x1_i|^2 + mean_j |x2_j|^2).
  double l2_reg = 0.0;
  // eps of normalize.
  double eps = 1e-12;
  bool grad = true;
  bool return_similarity = false;
  bool check_finite = false;
  // Under a process group: the loss over the global batch of W * N rows (the
  // rows of every rank, in rank order, against the columns of every rank),
  // with open_clip's ClipLoss options. `target` stays per rank (classes among
  // this rank's M columns). The loss is the global one on every rank and the
  // gradients are its exact gradients with respect to this rank's inputs,
  // except with local_loss && !gather_with_grad (open_clip's cheap mode: the
  // gradient skips this rank's rows as negatives of the other ranks).
  std::shared_ptr<ProcessGroup> group;
  // Each rank computes its N rows against all W * M columns (else all rows).
  bool local_loss = true;
  // Gradients flow through the gathered embeddings of the other ranks.
  bool gather_with_grad = true;
  // SupCon's positives (Khosla et al. 2020): class labels [N] (int64) of the
  // rows of x1 and of x2 (M = N); the target of row i is then uniform over
  // the columns with its label (and, under a group, the gathered columns
  // with its label). Undefined: `target` (or row i -> class i). A row with
  // no positive left contributes 0 (and counts in the mean).
  at::Tensor labels;
  // Row i leaves out column i, its own view (x1 and x2 the same views, as
  // SupCon over all views and NT-Xent compute): the logit is dropped from
  // the softmax as lightly drops it (logits[~eye]). Needs M = N, no
  // symmetric, no label smoothing, and no target on the left-out column.
  bool exclude_self = false;
  // Internal: the column of row 0's own view among the columns computed
  // (the group path: rank * M among the gathered columns).
  int64_t self_offset = 0;
  // Internal: the labels of the columns computed where they are not `labels`
  // (the group path: every rank's labels), for the row kernel's comparison.
  at::Tensor column_labels;
  // Optional memory for the gradients (contiguous CPU [N, D] / [M, D] of the
  // inputs' dtype, e.g. a JS ArrayBuffer): the fused CPU path writes grad1 /
  // grad2 there; other paths allocate their own (compare data pointers).
  at::Tensor out_grad1, out_grad2;
};

struct NpairsResult {
  double loss = 0.0;
  at::Tensor grad1, grad2, similarity;
  std::optional<double> grad_temperature;
};

// Checks only what keeps the kernels inside their memory (2-D inputs of one
// floating dtype and device, one D, non-empty, targets in range, M >= N for
// the default target, M = N and a permutation when symmetric), throwing
// ArgumentError with a short message; option values (temperature > 0, ...)
// are the caller's to check (lib/losses.ts does, with the messages users see).
// On CPU with cosine similarity the loss comes from ce_kernels.h's building
// blocks (fused.h, chunked.h), under a group too: gather, then the same local
// computation; elsewhere from LibTorch autograd on the reference expression.
NpairsResult npairs_loss(const at::Tensor& x1, const at::Tensor& x2, const NpairsOptions& options);

struct NtXentOptions {
  // logits = cosine similarity / temperature; must be > 0 (lightly's default 0.5).
  double temperature = 0.5;
  // eps of normalize.
  double eps = 1e-12;
  // A memory bank of negatives [K, D] (normalised here as z1 and z2 are):
  // then each row of z1 has one positive (its z2 row) and the K negatives,
  // lightly's NTXentLoss with memory_bank_size > 0. Undefined: SimCLR's 2N views.
  at::Tensor negatives;
  bool grad = true;
  bool check_finite = false;
  // Under a process group (lightly's gather_distributed): each rank's 2N
  // views against the views of every rank; the loss is the mean over all
  // 2WN rows, the same on every rank, and the gradients its exact gradients
  // for this rank's inputs. With negatives: the mean of the ranks' losses.
  std::shared_ptr<ProcessGroup> group;
  // Optional memory for the gradients, as NpairsOptions::out_grad1/2.
  at::Tensor out_grad1, out_grad2;
};

// NT-Xent (SimCLR, Chen et al. 2020) as lightly's NTXentLoss computes it:
// z = [z1; z2] normalised, logits = z z^T / temperature without the
// self-similarities, cross entropy of row i against its other view
// (i + N mod 2N), the mean over the 2N rows: N-pairs over z against itself
// with exclude_self (npairs_loss, its fused kernels on CPU). The result's
// grad_temperature is dloss/dtemperature; similarity is never set.
NpairsResult nt_xent_loss(const at::Tensor& z1, const at::Tensor& z2, const NtXentOptions& options);

enum class CorrelationMode { Samples, Features };

struct CorrelationOptions {
  // Weight of the off-diagonal term.
  double lambda = 5e-3;
  // Final scale of the loss.
  double scale = 0.025;
  // eps of the batch normalisation.
  double eps = 1e-5;
  // 'samples': the seed (BatchNorm1d(N) on z.T, corr [N, N]);
  // 'features': Barlow Twins (BatchNorm1d(D) on z, corr [D, D]).
  CorrelationMode mode = CorrelationMode::Samples;
  bool grad = true;
  bool check_finite = false;
  // Under a process group: corr -> mean over ranks of each rank's corr (the
  // seed: dist.all_reduce(corr); corr /= W); the loss is the same on every
  // rank and the gradients are its exact gradients for this rank's inputs.
  std::shared_ptr<ProcessGroup> group;
  // 'features' mode under a group: batch statistics over the global batch
  // (SyncBatchNorm), which makes the loss that of the concatenated batch.
  bool sync_batch_norm = false;
  // Optional memory for the gradients, as NpairsOptions::out_grad1/2.
  at::Tensor out_grad1, out_grad2;
};

struct CorrelationResult {
  double loss = 0.0;
  double on_diagonal = 0.0;   // sum_i (C_ii - 1)^2
  double off_diagonal = 0.0;  // sum_{i != j} C_ij^2
  at::Tensor grad1, grad2;
};

// Checks as npairs_loss: two 2-D inputs of one dtype, device, N and D.
CorrelationResult correlation_loss(const at::Tensor& z1, const at::Tensor& z2,
                                   const CorrelationOptions& options);

}  // namespace pairloss
