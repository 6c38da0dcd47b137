// NT-Xent's options and function (ntXentLoss; nt_xent.cpp). Its result is
// N-pairs' (npairs_options.h), the graph it is computed on.
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "npairs_options.h"  // NpairsResult

namespace pairloss {

class ProcessGroup;  // process_group.h

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

}  // namespace pairloss
