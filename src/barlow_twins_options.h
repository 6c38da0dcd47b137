// Barlow Twins' options and result (correlationLoss: CorrelationOptions,
// CorrelationResult), declared on their own beneath the loss
// (barlow_twins.h) and its CPU kernels (fused.h). "The original answer": the
// short PyTorch answer pairloss grew from (docs/DESIGN.md), whose
// correlation_loss_func is mode 'samples'.
#pragma once

#include <ATen/ATen.h>

#include <memory>

namespace pairloss {

class ProcessGroup;  // process_group.h

enum class CorrelationMode { Samples, Features };

struct CorrelationOptions {
  // Weight of the off-diagonal term.
  double lambda = 5e-3;
  // Final scale of the loss.
  double scale = 0.025;
  // eps of the batch normalisation.
  double eps = 1e-5;
  // 'samples': the original answer's correlation_loss_func (BatchNorm1d(N)
  // on z.T, corr [N, N]); 'features': Barlow Twins (BatchNorm1d(D) on z,
  // corr [D, D]).
  CorrelationMode mode = CorrelationMode::Samples;
  bool grad = true;
  bool check_finite = false;
  // Under a process group: corr -> mean over ranks of each rank's corr
  // (correlation_loss_func: dist.all_reduce(corr); corr /= W); the loss is
  // the same on every rank and the gradients are its exact gradients for
  // this rank's inputs.
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

}  // namespace pairloss
