// The KoLeo regulariser (Sablayrolles et al. 2019, DINOv2's) as lightly's
// KoLeoLoss computes it, with its gradient.
#pragma once

#include <ATen/ATen.h>

namespace pairloss {

struct KoleoOptions {
  // lightly's eps: of the row normalisation, of PairwiseDistance (added to
  // the difference) and under the log (default 1e-8).
  double eps = 1e-8;
  bool grad = true;
  bool check_finite = false;
  // Optional memory for the gradient (as NpairsOptions::out_grad1).
  at::Tensor out_grad;
};

struct KoleoResult {
  double loss = 0.0;  // -mean_i log(|xh_i - xh_nn(i) + eps| + eps)
  at::Tensor grad;
};

// xh = normalize(x, eps); nn(i) = argmax_{j != i} xh_i . xh_j (the first of
// ties, as torch's argmax); the loss -mean_i log(pairwise_distance(xh_i,
// xh_nn(i)) + eps). The nearest neighbours are constants of the gradient.
// A 2-D input, N >= 2 (a RangeError naming x for N < 2).
KoleoResult koleo_loss(const at::Tensor& x, const KoleoOptions& options);

}  // namespace pairloss
