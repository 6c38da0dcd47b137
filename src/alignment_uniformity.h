// Alignment and uniformity on the hypersphere (Wang & Isola 2020) as
// lightly's HypersphereLoss computes it, with its gradients.
#pragma once

#include <ATen/ATen.h>

namespace pairloss {

struct AlignmentUniformityOptions {
  // lightly's t (uniformity's temperature), lam (its weight) and alpha (the
  // power of the alignment's distances).
  double t = 1.0;
  double lambda = 1.0;
  double alpha = 2.0;
  bool grad = true;
  bool check_finite = false;
  // Optional memory for the gradients, as NpairsOptions::out_grad1/2.
  at::Tensor out_grad1, out_grad2;
};

struct AlignmentUniformityResult {
  double loss = 0.0;        // alignment + lambda * uniformity
  double alignment = 0.0;   // mean_i |x_i - y_i|^alpha, x, y = normalize(z1), normalize(z2)
  double uniformity = 0.0;  // (lunif(x) + lunif(y)) / 2, lunif = log mean_{i<j} exp(-t |x_i - x_j|^2)
  at::Tensor grad1, grad2;
};

// Two 2-D inputs of one dtype, device and shape, N >= 2 (a RangeError naming
// z1 for N < 2: uniformity's mean over pairs has no pair).
AlignmentUniformityResult alignment_uniformity_loss(const at::Tensor& z1, const at::Tensor& z2,
                                                    const AlignmentUniformityOptions& options);

}  // namespace pairloss
