// ArcFace (Deng et al. 2019, additive angular margin) as
// pytorch-metric-learning's ArcFaceLoss computes it, with its gradients
// with respect to the embeddings and to the class centres.
#pragma once

#include <ATen/ATen.h>

namespace pairloss {

struct ArcFaceOptions {
  // PML's defaults: the margin in degrees (np.radians of it is added to the
  // target's angle), the logits' scale.
  double margin = 28.6;
  double scale = 64.0;
  bool grad = true;
  bool check_finite = false;
  // Optional memory for the gradients (copied there where they fit: the
  // shape, dtype and device of x and of centers, contiguous).
  at::Tensor out_grad, out_grad_centers;
};

struct ArcFaceResult {
  // The mean over the rows of cross_entropy(scale * logits, label), the
  // target logit cos(theta + m) where theta <= pi - m, else
  // cos(theta) - m sin(m) (PML's monotonic continuation).
  double loss = 0.0;
  at::Tensor grad;          // d loss / d x [N, D] (with grad)
  at::Tensor grad_centers;  // d loss / d centers [C, D] (with grad)
};

// x [N, D] and centers [C, D] (PML's W [D, C] transposed: one row per class)
// of one floating dtype and device, N, C, D >= 1; labels [N] int64 on the
// CPU, each in [0, C). Checks what keeps the kernels inside their memory;
// lib checks every argument first.
ArcFaceResult arcface_loss(const at::Tensor& x, const at::Tensor& labels, const at::Tensor& centers,
                           const ArcFaceOptions& options);

}  // namespace pairloss
