// Decoupled contrastive learning (Yeh et al. 2022) as lightly's DCLLoss and,
// weighted, DCLWLoss compute it, with its gradients; under a process group
// lightly's gather_distributed.
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "process_group.h"

namespace pairloss {

struct DclOptions {
  // Similarities of the normalised rows divided by it; > 0 (lightly's 0.1).
  double temperature = 0.1;
  // DCLW: the positive term of row i weighted by w_i = 2 - N softmax_i(
  // <out0_i, out1_i> / sigma) over the batch (lightly's
  // negative_mises_fisher_weights; constants of the gradient).
  bool weighted = false;
  double sigma = 0.5;
  bool grad = true;
  bool check_finite = false;
  // Under a process group (lightly's gather_distributed): each rank's rows
  // against the negatives of every rank; the loss is the mean of the ranks'
  // losses (the mean over all W * N rows), the same on every rank, and the
  // gradients its exact gradients for this rank's inputs (lightly's
  // GatherLayer sums them over the ranks; divide by W there). Without
  // `weighted` this is one process on the concatenated batch; with it, each
  // rank weighs its own rows over its own batch, as lightly does.
  std::shared_ptr<ProcessGroup> group;
  // Optional memory for the gradients, as NpairsOptions::out_grad1/2.
  at::Tensor out_grad1, out_grad2;
};

struct DclResult {
  double loss = 0.0;
  at::Tensor grad1, grad2;
};

// out0, out1 = normalize(z1), normalize(z2) (eps 1e-12); the loss
// (loss(out0, out1) + loss(out1, out0)) / 2 with loss(a, b) = mean_i
// [-w_i <a_i, b_i> / T + logsumexp_{j != i}(<a_i, a_j> / T, <a_i, b_j> / T)].
// Two 2-D inputs of one dtype, device and shape; N >= 2 (under a group
// W * N >= 2): a RangeError naming z1 otherwise (no negative).
DclResult dcl_loss(const at::Tensor& z1, const at::Tensor& z2, const DclOptions& options);

}  // namespace pairloss
