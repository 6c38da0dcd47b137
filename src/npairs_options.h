// N-pairs' options and result (NpairsOptions, NpairsResult): declared on
// their own, beneath everything that computes the loss, so that the
// techniques (fused.h, chunked.h) and NT-Xent (nt_xent.h) take them without
// including npairs.h, the loss that dispatches to them.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <optional>

#include "ops.h"  // Reduction

namespace pairloss {

class ProcessGroup;  // process_group.h

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

}  // namespace pairloss
