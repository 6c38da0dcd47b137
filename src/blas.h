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

// Whether mm calls the BLAS directly ("sgemm_"/"dgemm_" found), for tests.
bool direct();

}  // namespace pairloss::blas
