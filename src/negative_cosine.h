// The negative cosine similarity of SimSiam (Chen & He 2021) and BYOL (Grill
// et al. 2020) as lightly's NegativeCosineSimilarity computes it, with its
// gradients.
#pragma once

#include <ATen/ATen.h>

namespace pairloss {

struct NegativeCosineOptions {
  // torch.nn.functional.cosine_similarity's eps: each row's norm is clamped
  // to it (lightly's default 1e-8).
  double eps = 1e-8;
  bool grad = true;
  bool check_finite = false;
  // Optional memory for the gradients, as NpairsOptions::out_grad1/2 (the
  // gradients are computed or copied there where they fit).
  at::Tensor out_grad1, out_grad2;
};

struct NegativeCosineResult {
  double loss = 0.0;        // -mean_i cos(x1_i, x2_i)
  at::Tensor grad1, grad2;  // the stop-gradient of SimSiam/BYOL is the caller's (ignore grad2)
};

// -mean over rows of cosine_similarity(x1, x2, dim = 1, eps): two 2-D inputs
// of one dtype, device and shape, N >= 1 (lib checks every argument first).
NegativeCosineResult negative_cosine_loss(const at::Tensor& x1, const at::Tensor& x2,
                                          const NegativeCosineOptions& options);

}  // namespace pairloss
