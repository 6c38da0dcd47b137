// Hand-derived forward + backward of N-pairs, SigLIP and Barlow Twins for
// CPU tensors: the same numbers as LibTorch autograd on the reference
// expressions (npairs.cpp, siglip.cpp, barlow_twins.cpp), without building a
// graph: three matrix products and a few passes over the similarity matrix,
// each pass one loop.
#pragma once

#include <ATen/ATen.h>

#include <optional>

#include "barlow_twins_options.h"
#include "npairs_options.h"
#include "siglip_options.h"

namespace pairloss {

// Whether the CPU kernels (these and chunked.h's) are used where they apply
// (float32/float64 CPU tensors, cosine similarity for N-pairs); off: every
// call takes the autograd reference path.
bool fused_enabled();

// For tests: how often N-pairs' large similarity matrix (>= 8 MiB) came from
// the workspace kept between calls, how often it was allocated, the bytes the
// slot holds now; `release` empties the slot first.
struct WorkspaceStats {
  int64_t reuses = 0;
  int64_t allocations = 0;
  int64_t held_bytes = 0;
};
WorkspaceStats workspace_stats(bool release);

void set_fused_enabled(bool enabled);

// `target`: int64 class indices [N] or probabilities [N, M] (already checked).
// Empty when the inputs need the reference path (a row with norm < eps).
std::optional<NpairsResult> npairs_fused(const at::Tensor& x1, const at::Tensor& x2, const at::Tensor& target,
                                         const NpairsOptions& options);

// SigLIP without a group: normalise, one product, one pass over the matrix
// (ce::sigmoid_run), two products back. With `rows` in (0, N): the same in
// blocks of that many rows, never holding more than rows x M of the matrix
// (the chunked path). Empty where a row's norm is below eps.
std::optional<SigmoidLossResult> sigmoid_fused(const at::Tensor& x1, const at::Tensor& x2, const SigmoidOptions& options,
                                               int64_t rows = 0);

CorrelationResult correlation_fused(const at::Tensor& z1, const at::Tensor& z2,
                                    const CorrelationOptions& options);

}  // namespace pairloss
