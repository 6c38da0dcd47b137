// The row normalisation of ce_kernels.h (F.normalize forward and backward:
// row_norms, divide_rows, normalize_backward), compiled once per CPU build as
// ce_kernels_impl.h is: included after it by ce_kernels_baseline.cpp and
// ce_kernels_avx2.cpp, with the same PAIRLOSS_CE_NS and PAIRLOSS_CE_AVX2.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "ce_kernels.h"
#include "parallel.h"

#if PAIRLOSS_CE_AVX2
#include <immintrin.h>
#endif

namespace pairloss::ce::PAIRLOSS_CE_NS {

using pairloss::grain;

namespace {

template <typename T>
void divide_rows_impl(const T* x, const T* norms, T* out, int64_t r, int64_t d, double eps) {
  at::parallel_for(0, r, grain(d), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T denom = std::max(norms[i], static_cast<T>(eps));
      const T* xi = x + i * d;
      T* oi = out + i * d;
#pragma omp simd
      for (int64_t k = 0; k < d; ++k) oi[k] = xi[k] / denom;
    }
  });
}

template <typename T>
void normalize_backward_impl(T* g, const T* y, const T* norms, int64_t r, int64_t d, double eps) {
  at::parallel_for(0, r, grain(d), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T* gi = g + i * d;
      const T* yi = y + i * d;
      const T n = norms[i];
      const T inv = T(1) / (n >= static_cast<T>(eps) ? n : static_cast<T>(eps));
      T dot = 0;
      if (n >= static_cast<T>(eps)) {
        double acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t k = 0; k < d; ++k) acc += static_cast<double>(gi[k]) * yi[k];
        dot = static_cast<T>(acc);
      }
#pragma omp simd
      for (int64_t k = 0; k < d; ++k) gi[k] = (gi[k] - yi[k] * dot) * inv;
    }
  });
}

// Row norms as LibTorch's CPU norm kernel (x.norm(2, dim=1), which
// F.normalize calls) computes them, so that the normalised rows match
// PyTorch's: float32 in 8 lanes of squares, folded left to right, the
// remaining (d mod 8) elements added one by one; float64 one by one. The AVX2
// build fuses multiply and add as LibTorch's AVX2 build does (measured
// against at::norm: identical for float64, and for float32 except an ulp in a
// few rows with a remainder); the baseline one does not, as LibTorch's
// default build does not.
float row_norm(const float* x, int64_t d) {
  int64_t k = 0;
  float sum;
#if PAIRLOSS_CE_AVX2
  __m256 acc = _mm256_setzero_ps();
  for (; k + 8 <= d; k += 8) {
    const __m256 v = _mm256_loadu_ps(x + k);
    acc = _mm256_fmadd_ps(v, v, acc);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  sum = lanes[0];
  for (int j = 1; j < 8; ++j) sum = sum + lanes[j];
  for (; k < d; ++k) sum = std::fma(x[k], x[k], sum);
#else
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (; k + 8 <= d; k += 8)
    for (int j = 0; j < 8; ++j) lanes[j] = lanes[j] + x[k + j] * x[k + j];
  sum = lanes[0];
  for (int j = 1; j < 8; ++j) sum = sum + lanes[j];
  for (; k < d; ++k) sum = sum + x[k] * x[k];
#endif
  return std::sqrt(sum);
}

double row_norm(const double* x, int64_t d) {
  double sum = 0;
#if PAIRLOSS_CE_AVX2
  for (int64_t k = 0; k < d; ++k) sum = std::fma(x[k], x[k], sum);
#else
  for (int64_t k = 0; k < d; ++k) sum = sum + x[k] * x[k];
#endif
  return std::sqrt(sum);
}

template <typename T>
void row_norms_impl(const T* x, T* norms, int64_t r, int64_t d) {
  at::parallel_for(0, r, grain(d), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) norms[i] = row_norm(x + i * d, d);
  });
}

}  // namespace

void divide_rows(const float* x, const float* norms, float* out, int64_t r, int64_t d, double eps) {
  divide_rows_impl(x, norms, out, r, d, eps);
}
void divide_rows(const double* x, const double* norms, double* out, int64_t r, int64_t d, double eps) {
  divide_rows_impl(x, norms, out, r, d, eps);
}
void row_norms(const float* x, float* norms, int64_t r, int64_t d) { row_norms_impl(x, norms, r, d); }
void row_norms(const double* x, double* norms, int64_t r, int64_t d) { row_norms_impl(x, norms, r, d); }
void normalize_backward(float* g, const float* y, const float* norms, int64_t r, int64_t d, double eps) {
  normalize_backward_impl(g, y, norms, r, d, eps);
}
void normalize_backward(double* g, const double* y, const double* norms, int64_t r, int64_t d, double eps) {
  normalize_backward_impl(g, y, norms, r, d, eps);
}

void exp_values(float* x, int64_t n) { exp_inplace(x, n); }
void exp_values(double* x, int64_t n) { exp_inplace(x, n); }

}  // namespace pairloss::ce::PAIRLOSS_CE_NS
