// SigLIP's pairwise sigmoid loss (Zhai et al. 2023) as open_clip's SigLipLoss
// computes it, with its gradients; under a process group open_clip's
// neighbour exchange (each rank's x2 passed around the ring, no all-gather).
#pragma once

#include <ATen/ATen.h>

#include "siglip_options.h"

namespace pairloss {

// Checks what keeps the kernels inside their memory (as npairs_loss); lib
// checks every argument first.
SigmoidLossResult sigmoid_loss(const at::Tensor& x1, const at::Tensor& x2, const SigmoidOptions& options);

}  // namespace pairloss
