// The CPU building blocks of the N-pairs loss (and of the losses that reuse
// them): the row normalisation, forward and backward, and the softmax cross
// entropy over a block of logits with its target, forward and backward in one
// or two passes. fused.cpp runs them over the whole [N, M] similarity matrix,
// chunked.cpp over blocks of rows, and the group path over this rank's rows
// against the gathered columns (npairs.cpp).
//
// logits L = S / temperature. Row-wise cross entropy against targets q
// (class indices or probabilities, with label smoothing), and for a
// symmetric loss also column-wise (the transposed problem). Returns the summed
// row (and column) losses, dloss/dS into G (G may be S itself: computed in
// place), and sum(dloss/dL * S) for the temperature's gradient.
//
// Every element is touched in row-major order (no strided column walks): the
// column statistics are accumulated while the rows stream by. One exp per
// element: the symmetric form uses exp(L - 1/temperature), the bound of a
// cosine logit, for both directions; where that would lose a row or column to
// underflow, `ok` comes back false (the caller then takes the row-block path,
// chunked.cpp, which keeps per-row and per-column maxima).
//
// Two builds of the same code (ce_kernels_impl.h): a baseline one, and one
// compiled for AVX2+FMA calling SLEEF's vectorised exp (the one LibTorch's own
// softmax uses), chosen at run time by what the CPU supports.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace pairloss::ce {

// ---- the softmax cross entropy over a block of logits ----
// One block of logits: S is [n, m], row-major, contiguous (a block of rows of
// a larger matrix: `index` and `probs` then point at the block's own rows).
struct Problem {
  int64_t n = 0, m = 0;
  double temperature = 1;        // > 0
  const int64_t* index = nullptr;  // [n] row classes, or null (then probs)
  const void* probs = nullptr;     // [n, m] contiguous probabilities of S's dtype
  double label_smoothing = 0;
  bool symmetric = false;        // needs n == m, index a permutation
  double w_rows = 1, w_cols = 0; // weights of the row / column losses' gradients
  bool grad = true;
  // >= 0: row i leaves out column exclude_from + i (its own view: SupCon's
  // and NT-Xent's self-similarity), as a logit of -infinity would: no share
  // of the softmax, a gradient of 0. Row-wise only (not symmetric), without
  // label smoothing; the target there must be 0 (the caller checks).
  int64_t exclude_from = -1;
  // SupCon's target without a matrix (row-wise only, no label smoothing;
  // then index and probs are null): row i's target is uniform over the
  // columns j with col_labels[j] == row_labels[i] (the left-out column
  // aside); a row with none has target 0 (its loss and gradient are 0).
  const int64_t* row_labels = nullptr;  // [n]
  const int64_t* col_labels = nullptr;  // [m]
};

struct Result {
  bool ok = true;                // false: underflow, G may hold partial values, S untouched unless G is S
  double loss_rows = 0;          // sum over rows of each row's loss
  double loss_cols = 0;          // sum over columns (symmetric)
  double gs = 0;                 // sum(dloss/dL * S)
};

Result run(float* S, float* G, const Problem& p);
Result run(double* S, double* G, const Problem& p);

// The one shift c of the symmetric form's exponentials, u = exp(L - c), for
// temperature t (in T): 1 / t, the bound of a cosine logit, for double;
// 1 / t - 80 for float (u then up to e^80, and normal down to 167 below the
// bound; ce_kernels_symmetric.h says why).
template <typename T>
T symmetric_shift(T t) {
  return std::is_same<T, float>::value ? T(1) / t - T(80) : T(1) / t;
}

// ---- the symmetric cross entropy over row blocks (chunked.cpp) ----
// run()'s symmetric form with index targets and no label smoothing, split
// into its two passes so that a caller can go through an N x M matrix one
// block of rows S [b, m] at a time, forming each block twice:
// symmetric_block_sums: each row's sum of u and of u * s into rs[i], ru[i]
// (i < b), and the block's column sums of the same added to cs[j], cu[j];
// symmetric_block_grad: dloss/dS in S's own memory from the row weights
// a_i = w_rows / rs_i (this block's rows), the column weights b_j = w_cols /
// cs_j (all rows' sums), the rows' targets `index` (this block's rows) and
// w_target = w_rows + w_cols: u (a_i + b_j) / t, less w_target / t at the
// target. The loss is sum_i (c + log rs_i) and sum_j (c + log cs_j) less the
// target logits; a sum below ~1e-30 (float) or ~1e-290 (double) says that
// the one shift underflows there (the caller then keeps per-row maxima).
void symmetric_block_sums(const float* S, int64_t b, int64_t m, double t, double* rs, double* ru, double* cs, double* cu);
void symmetric_block_sums(const double* S, int64_t b, int64_t m, double t, double* rs, double* ru, double* cs, double* cu);
void symmetric_block_grad(float* S, int64_t b, int64_t m, double t, const double* a, const double* bc, const int64_t* index,
                          double w_target);
void symmetric_block_grad(double* S, int64_t b, int64_t m, double t, const double* a, const double* bc, const int64_t* index,
                          double w_target);

// ---- SigLIP's pairwise sigmoid loss over a block of similarities ----
// logits z = scale * S + bias (rounded as LibTorch rounds the two ops), the
// labels y = +1 at (i, positive_from + i), -1 elsewhere (or the given
// labels), the loss sum over the block of -log sigmoid(y * z) = softplus(-y z),
// and with grad dloss/dS into G (G may be S): w * scale * (-y sigmoid(-y z)).
struct SigmoidProblem {
  int64_t n = 0, m = 0;
  double scale = 10, bias = -10;
  const void* labels = nullptr;  // [n, m] of S's dtype, or null (the diagonal layout)
  int64_t positive_from = 0;     // the diagonal layout: row i's positive column; < 0 none (all negative)
  double w = 1;                  // the gradient's weight (1 / the batch's rows)
  bool grad = true;
};
struct SigmoidResult {
  double loss = 0;   // sum of softplus(-y z) over the block (unweighted)
  double gscale = 0; // w * sum(dloss/dz * S)
  double gbias = 0;  // w * sum(dloss/dz)
};
SigmoidResult sigmoid_run(float* S, float* G, const SigmoidProblem& p);
SigmoidResult sigmoid_run(double* S, double* G, const SigmoidProblem& p);

// ---- the row normalisation (F.normalize with p = 2 over rows) ----
// norms_i = |x_i|_2 for the r rows of x [r, d], summed as LibTorch's norm kernel sums.
void row_norms(const float* x, float* norms, int64_t r, int64_t d);
void row_norms(const double* x, double* norms, int64_t r, int64_t d);
// out_i = x_i / max(norm_i, eps)
void divide_rows(const float* x, const float* norms, float* out, int64_t r, int64_t d, double eps);
void divide_rows(const double* x, const double* norms, double* out, int64_t r, int64_t d, double eps);
// The backward in place, dloss/dy -> dloss/dx:
// g_i <- (g_i - y_i (g_i . y_i)) / norm_i where norm_i >= eps, g_i / eps where not.
void normalize_backward(float* g, const float* y, const float* norms, int64_t r, int64_t d, double eps);
void normalize_backward(double* g, const double* y, const double* norms, int64_t r, int64_t d, double eps);

// The forward: the norms into `norms`, the normalised rows into y. False,
// with y unwritten, where a row's norm is below eps: its gradient g / eps is
// an ill-conditioned sum that only the reference path (LibTorch autograd)
// rounds as PyTorch does.
template <typename T>
bool normalize_rows(const T* x, T* norms, T* y, int64_t r, int64_t d, double eps) {
  row_norms(x, norms, r, d);
  if (std::any_of(norms, norms + r, [eps](T v) { return v < static_cast<T>(eps); })) return false;
  divide_rows(x, norms, y, r, d, eps);
  return true;
}

// x <- exp(x), n values: SLEEF's vectorised exp where the AVX2 build runs and
// SLEEF is found (LibTorch's own), else std::exp.
void exp_values(float* x, int64_t n);
void exp_values(double* x, int64_t n);

// Which build runs: "avx2+sleef", "avx2" (no SLEEF found) or "baseline".
const char* kernel_name();

#define PAIRLOSS_CE_DECLARE                                                                              \
  Result run(float* S, float* G, const Problem& p);                                                      \
  Result run(double* S, double* G, const Problem& p);                                                    \
  void symmetric_block_sums(const float* S, int64_t b, int64_t m, double t, double* rs, double* ru, double* cs, double* cu); \
  void symmetric_block_sums(const double* S, int64_t b, int64_t m, double t, double* rs, double* ru, double* cs, double* cu); \
  void symmetric_block_grad(float* S, int64_t b, int64_t m, double t, const double* a, const double* bc, const int64_t* i, double w); \
  void symmetric_block_grad(double* S, int64_t b, int64_t m, double t, const double* a, const double* bc, const int64_t* i, double w); \
  SigmoidResult sigmoid_run(float* S, float* G, const SigmoidProblem& p);                                \
  SigmoidResult sigmoid_run(double* S, double* G, const SigmoidProblem& p);                              \
  void divide_rows(const float* x, const float* norms, float* out, int64_t r, int64_t d, double eps);    \
  void divide_rows(const double* x, const double* norms, double* out, int64_t r, int64_t d, double eps); \
  void row_norms(const float* x, float* norms, int64_t r, int64_t d);                                    \
  void row_norms(const double* x, double* norms, int64_t r, int64_t d);                                  \
  void normalize_backward(float* g, const float* y, const float* norms, int64_t r, int64_t d, double eps); \
  void normalize_backward(double* g, const double* y, const double* norms, int64_t r, int64_t d, double eps); \
  void exp_values(float* x, int64_t n);                                                                   \
  void exp_values(double* x, int64_t n);
namespace baseline {
PAIRLOSS_CE_DECLARE
}  // namespace baseline
namespace avx2 {
PAIRLOSS_CE_DECLARE
bool have_sleef();
}  // namespace avx2
#undef PAIRLOSS_CE_DECLARE

}  // namespace pairloss::ce
