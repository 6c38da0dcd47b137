// SigLIP's options and result (sigmoidLoss: SigmoidOptions,
// SigmoidLossResult), declared on their own beneath the loss (siglip.h) and
// its CPU kernel (fused.h).
#pragma once

#include <ATen/ATen.h>

#include <memory>

namespace pairloss {

class ProcessGroup;  // process_group.h

struct SigmoidOptions {
  // logits = scale * normalize(x1) @ normalize(x2).T + bias (SigLIP's init:
  // scale = exp(log 10), bias = -10).
  double scale = 10.0;
  double bias = -10.0;
  // Labels [N, M] of the inputs' dtype (e.g. +1 positive, -1 negative);
  // undefined: +1 at (i, i), -1 elsewhere. Under a group they label this
  // rank's own block; the other ranks' columns are negatives.
  at::Tensor target;
  double eps = 1e-12;
  bool grad = true;
  bool check_finite = false;
  // Under a process group: the loss over the global batch, -sum over every
  // rank's rows i and every rank's columns j of log sigmoid(y_ij z_ij) / (W N),
  // the same on every rank, and its exact gradients for this rank's inputs;
  // x2 travels the ring in W - 1 exchanges and its gradient comes home in one
  // more (N, M and D the same on every rank).
  std::shared_ptr<ProcessGroup> group;
  // Optional memory for the gradients, as NpairsOptions::out_grad1/2.
  at::Tensor out_grad1, out_grad2;
};

struct SigmoidLossResult {
  double loss = 0.0;
  at::Tensor grad1, grad2;
  double grad_scale = 0.0, grad_bias = 0.0;  // dloss/dscale, dloss/dbias (with grad)
};

}  // namespace pairloss
