// Barlow Twins' correlation loss (Zbontar et al. 2021; correlationLoss),
// with its gradients: in mode 'samples' the original answer's
// correlation_loss_func, in mode 'features' the paper's, one or many ranks.
// Written as the PyTorch reference computes it, and its gradient is LibTorch
// autograd's for that same expression (or the fused kernels' same numbers).
#pragma once

#include <ATen/ATen.h>

#include "barlow_twins_options.h"

namespace pairloss {

// Checks as npairs_loss: two 2-D inputs of one dtype, device, N and D.
CorrelationResult correlation_loss(const at::Tensor& z1, const at::Tensor& z2,
                                   const CorrelationOptions& options);

}  // namespace pairloss
