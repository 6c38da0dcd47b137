// Matrix products straight into the BLAS that LibTorch calls (OpenBLAS here),
// with the arguments at::mm would pass it, for the fused CPU kernels: at::mm
// costs ~2-3 us of dispatch and checks per call on top of a 3 us 32x32x128
// product (measured), a third of a small loss. Falls back to at::mm_out when
// no BLAS symbol is found (a LibTorch with MKL linked in statically, say).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace pairloss::blas {

// C = op(A) @ op(B), all row-major and contiguous: C [rows, cols]; A is
// [rows, inner] (or [inner, rows] stored, with ta: op(A) = A^T); B is
// [inner, cols] (or [cols, inner] stored, with tb). C is overwritten.
void mm(const float* a, bool ta, const float* b, bool tb, float* c, int64_t rows, int64_t cols, int64_t inner);
void mm(const double* a, bool ta, const double* b, bool tb, double* c, int64_t rows, int64_t cols, int64_t inner);

// C = A @ A^T for a row-major contiguous A [rows, inner], both triangles of
// C [rows, rows] written: the BLAS's syrk (half the multiply-adds of mm) and
// the triangle mirrored; mm where no syrk symbol is found. Its rounding is
// syrk's, not mm's (use mm where a comparison must pick what at::mm picks).
void gram(const float* a, float* c, int64_t rows, int64_t inner);
void gram(const double* a, double* c, int64_t rows, int64_t inner);

// Whether mm calls the BLAS directly ("sgemm_"/"dgemm_" found), for tests.
bool direct();

}  // namespace pairloss::blas
