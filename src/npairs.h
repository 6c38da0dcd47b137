// The N-pairs loss (Sohn 2016) and the losses on its graph: InfoNCE and
// CLIP's symmetric form (open_clip's ClipLoss, one or many ranks), SupCon
// (Khosla et al. 2020: labels, exclude_self), with its gradients. Written as
// the PyTorch references compute it, and its gradient is LibTorch autograd's
// for that same expression (or the hand-derived kernels' identical numbers).
#pragma once

#include <ATen/ATen.h>

#include "npairs_options.h"

namespace pairloss {

// Checks only what keeps the kernels inside their memory (2-D inputs of one
// floating dtype and device, one D, non-empty, targets in range, M >= N for
// the default target, M = N and a permutation when symmetric), throwing
// ArgumentError with a short message; option values (temperature > 0, ...)
// are the caller's to check (lib/losses.ts does, with the messages users see).
// On CPU with cosine similarity the loss comes from ce_kernels.h's building
// blocks (fused.h, chunked.h), under a group too: gather, then the same local
// computation; elsewhere from LibTorch autograd on the reference expression.
NpairsResult npairs_loss(const at::Tensor& x1, const at::Tensor& x2, const NpairsOptions& options);

}  // namespace pairloss
