// The triplet margin loss (Schroff et al. 2015, FaceNet) as
// pytorch-metric-learning's TripletMarginLoss computes it, with its
// gradient: with BatchHardMiner's triplets (Hermans et al. 2017) or with all
// triplets of the batch, on PML's LpDistance (L2 between L2-normalised rows)
// or CosineSimilarity, reduced by AvgNonZeroReducer.
#pragma once

#include <ATen/ATen.h>

namespace pairloss {

// PML's miners and losses name them BatchHardMiner / no miner
// (triplets_per_anchor="all"); the binding reads 'batch-hard' | 'all'.
enum class TripletMining { BatchHard, All };
// PML's LpDistance() (p 2, normalize_embeddings) | CosineSimilarity(); the
// binding reads 'euclidean' | 'cosine'. The miner and the loss use the same.
enum class TripletDistance { Euclidean, Cosine };

struct TripletMarginOptions {
  // PML's defaults (swap=False, smooth_loss=False, triplets_per_anchor="all").
  double margin = 0.05;
  TripletMining mining = TripletMining::BatchHard;
  TripletDistance distance = TripletDistance::Euclidean;
  bool grad = true;
  bool check_finite = false;
  // Optional memory for the gradient (copied there where it fits: the
  // shape, dtype and device of x, contiguous).
  at::Tensor out_grad;
};

struct TripletMarginResult {
  // The mean of relu(d(a, p) - d(a, n) + margin) (cosine: s(a, n) - s(a, p) +
  // margin) over the triplets where it is > 0; 0 with a zero gradient where
  // there is none (no anchor with both a positive and a negative, or none
  // violating the margin).
  double loss = 0.0;
  at::Tensor grad;  // d loss / d x (with grad)
};

// x [N, D] floating (N, D >= 1); labels [N] int64 on the CPU (any values:
// rows of one value are positives of each other). Checks what keeps the
// kernels inside their memory; lib checks every argument first.
TripletMarginResult triplet_margin_loss(const at::Tensor& x, const at::Tensor& labels,
                                        const TripletMarginOptions& options);

}  // namespace pairloss
