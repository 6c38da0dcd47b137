// Tensor ops mirroring torch.nn.functional, with the checks that keep bad
// shapes out of LibTorch. Every function takes and returns plain at::Tensor.
#pragma once

#include <ATen/ATen.h>

#include <initializer_list>
#include <string>

namespace pairloss {

enum class Reduction { Mean, Sum, None };

// Parses "mean" | "sum" | "none" (argument name used in the error).
Reduction parse_reduction(const std::string& value, const char* name = "reduction");

// Raises a RangeError unless t is a 2-D floating tensor; `name` names it.
void check_matrix(const at::Tensor& t, const char* name);
// Raises a RangeError unless every element of t is finite.
void check_finite(const at::Tensor& t, const char* name);
// What keeps a loss's kernels inside their memory, for C++ callers (lib/
// checks every argument first, with the messages users see): two 2-D inputs
// of one floating dtype and device, one D, non-empty, and with `same_rows` one
// N; with `finite`, no NaN or infinity in either (a RangeError naming it).
void check_loss_inputs(const at::Tensor& a, const at::Tensor& b, bool same_rows, bool finite, const char* name_a,
                       const char* name_b);

// x / max(||x||_p, eps) along dim (torch.nn.functional.normalize).
at::Tensor normalize(const at::Tensor& x, double p = 2.0, int64_t dim = 1, double eps = 1e-12);

// The [N, M] matrix normalize(x1) @ normalize(x2).T.
at::Tensor cosine_similarity_matrix(const at::Tensor& x1, const at::Tensor& x2, double eps = 1e-12);

// Cross entropy with class-index targets (int64, [N]) or class probabilities
// (same shape as logits), as torch.nn.functional.cross_entropy.
at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& target,
                         Reduction reduction = Reduction::Mean, double label_smoothing = 0.0);

// a @ b through BLAS's transpose flags: with transpose_a, `a` is stored
// [K, N] and multiplied as a.t() (a view: at::mm reads it transposed, no
// copy), with transpose_b `b` is stored [M, K]. With `out` defined (N*M
// elements of the inputs' dtype, contiguous, on the CPU, sharing no memory
// with the inputs) the product is written there (at::mm_out) and returned
// as an [N, M] view of it; else a new tensor.
at::Tensor matmul(const at::Tensor& a, const at::Tensor& b, bool transpose_a, bool transpose_b,
                  const at::Tensor& out = {});

// True when the memory of `a` and `b` (their storage's bytes in use) overlaps.
bool memory_overlaps(const at::Tensor& a, const at::Tensor& b);

// Checks that `out` can take a result of `rows` x `cols` beside `inputs`
// (numel, dtype, contiguous, on the CPU, no overlap) and returns it viewed
// [rows, cols]; `out` undefined: a new, uninitialised tensor.
at::Tensor output_matrix(const at::Tensor& out, int64_t rows, int64_t cols, at::ScalarType dtype,
                         std::initializer_list<at::Tensor> inputs);

// BatchNorm1d in training mode without affine parameters: each column of
// x [N, C] standardised with its batch mean and biased variance.
at::Tensor batch_norm1d(const at::Tensor& x, double eps = 1e-5);

// The reference paths' inputs: `t` detached, and a leaf that autograd
// differentiates with respect to where `grad`.
at::Tensor autograd_leaf(const at::Tensor& t, bool grad);

// A loss's gradient `g` moved into the caller's memory `out` (an
// options struct's out_grad*) where `out` is given and fits (device, shape,
// dtype, contiguous); otherwise `g` stays as it is.
void place_gradient(at::Tensor& g, const at::Tensor& out);

}  // namespace pairloss
