// The body of ce_kernels.h's run() and sigmoid_run(), compiled once per CPU
// build: included by ce_kernels_baseline.cpp and ce_kernels_avx2.cpp with
// PAIRLOSS_CE_NS set to the build's namespace (and PAIRLOSS_CE_AVX2 for the
// AVX2 one), as ce_kernels_normalize_impl.h is. Loops marked
// `omp simd` are vectorised by the compiler (-fopenmp-simd: the pragma only,
// no OpenMP runtime); reductions accumulate in double.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "ce_kernels.h"
#include "parallel.h"

#if PAIRLOSS_CE_AVX2
#include <dlfcn.h>
#include <immintrin.h>
#endif
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace pairloss::ce::PAIRLOSS_CE_NS {

using pairloss::grain;
using pairloss::fine_grain;

namespace {

#if PAIRLOSS_CE_AVX2
// SLEEF's 1-ulp vectorised exp, as LibTorch's AVX2 kernels call it (it is
// already loaded: libtorch_cpu links it). Found at run time, so that a
// LibTorch without a shared SLEEF still works (scalar exp then).
using ExpF8 = __m256 (*)(__m256);
using ExpD4 = __m256d (*)(__m256d);
struct Sleef {
  ExpF8 f8 = nullptr;
  ExpD4 d4 = nullptr;
};
const Sleef& sleef() {
  static const Sleef s = [] {
    Sleef r;
    void* h = dlopen("libsleef.so.3", RTLD_NOW | RTLD_NOLOAD);
    if (!h) h = dlopen("libsleef.so.3", RTLD_NOW);
    if (h) {
      r.f8 = reinterpret_cast<ExpF8>(dlsym(h, "Sleef_expf8_u10avx2"));
      r.d4 = reinterpret_cast<ExpD4>(dlsym(h, "Sleef_expd4_u10avx2"));
    }
    return r;
  }();
  return s;
}

void exp_inplace(float* x, int64_t n) {
  const ExpF8 f = sleef().f8;
  int64_t j = 0;
  if (f) {
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(x + j, f(_mm256_loadu_ps(x + j)));
    if (j < n) {
      alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::copy(x + j, x + n, t);
      _mm256_store_ps(t, f(_mm256_load_ps(t)));
      std::copy(t, t + (n - j), x + j);
    }
    return;
  }
  for (; j < n; ++j) x[j] = std::exp(x[j]);
}

void exp_inplace(double* x, int64_t n) {
  const ExpD4 f = sleef().d4;
  int64_t j = 0;
  if (f) {
    for (; j + 4 <= n; j += 4) _mm256_storeu_pd(x + j, f(_mm256_loadu_pd(x + j)));
    if (j < n) {
      alignas(32) double t[4] = {0, 0, 0, 0};
      std::copy(x + j, x + n, t);
      _mm256_store_pd(t, f(_mm256_load_pd(t)));
      std::copy(t, t + (n - j), x + j);
    }
    return;
  }
  for (; j < n; ++j) x[j] = std::exp(x[j]);
}
#else
template <typename T>
void exp_inplace(T* x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) x[j] = std::exp(x[j]);
}
#endif

template <typename T>
T row_max(const T* s, int64_t m) {
  T mx = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : mx)
  for (int64_t j = 0; j < m; ++j) mx = s[j] > mx ? s[j] : mx;
  return mx;
}

// Sum over j of the logits as the reference rounds them: (T)(s_j / t).
template <typename T>
double logit_sum(const T* s, int64_t m, T t) {
  double acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t j = 0; j < m; ++j) acc += static_cast<double>(s[j] / t);
  return acc;
}

// ---- row-wise only ------------------------------------------------------------
// One pass: each row's max, exps, sums and gradient while the row is in cache.
template <typename T>
Result rows_only(T* S, T* G, const Problem& p) {
  const int64_t n = p.n, m = p.m;
  const T t = static_cast<T>(p.temperature);
  const double inv_t = 1.0 / static_cast<double>(t);
  const double ls = p.label_smoothing, smooth = ls / static_cast<double>(m), w = p.w_rows;
  const T* P = static_cast<const T*>(p.probs);
  // each task's loss and sum(dloss/dL * S), added in the order of its rows (parallel.h)
  const std::array<double, 2> sums = parallel_sums<2>(n, grain(m), [&](int64_t b, int64_t e) {
    std::vector<T> buf(static_cast<size_t>(m));
    T* u = buf.data();
    double loss = 0, gs = 0;
    for (int64_t i = b; i < e; ++i) {
      const T* s = S + i * m;
      // the column this row leaves out (its own view), or none
      const int64_t x = p.exclude_from >= 0 ? p.exclude_from + i : -1;
      const T smax = x < 0 ? row_max(s, m) : std::max(row_max(s, x), row_max(s + x + 1, m - x - 1));
      const T lmax = smax / t;
#pragma omp simd
      for (int64_t j = 0; j < m; ++j) u[j] = s[j] / t - lmax;
      exp_inplace(u, m);
      if (x >= 0) u[x] = 0;
      double rs = 0, us = 0;
      if (p.grad) {
#pragma omp simd reduction(+ : rs, us)
        for (int64_t j = 0; j < m; ++j) {
          rs += u[j];
          us += static_cast<double>(u[j]) * s[j];
        }
      } else {
#pragma omp simd reduction(+ : rs)
        for (int64_t j = 0; j < m; ++j) rs += u[j];
      }
      const double lse = static_cast<double>(lmax) + std::log(rs);
      // q_j = (1 - ls) * p_j + ls / m; qs = sum q, ql = sum q * logit, qsum_s = sum q * s
      double qs, ql, qss;
      const T* pr = P ? P + i * m : nullptr;
      int64_t target = -1;
      int64_t label = 0;
      double inv_count = 0;  // labels: 1 / the number of positives (0: none)
      if (p.row_labels) {
        label = p.row_labels[i];
        const int64_t* cl = p.col_labels;
        int64_t count = 0;
        double spl = 0, sps = 0;
        for (int64_t j = 0; j < m; ++j) {
          if (cl[j] != label || j == x) continue;
          ++count;
          spl += static_cast<double>(s[j] / t);
          sps += s[j];
        }
        inv_count = count ? 1.0 / static_cast<double>(count) : 0.0;
        qs = count ? 1.0 : 0.0;
        ql = spl * inv_count;
        qss = sps * inv_count;
      } else if (pr) {
        double sp = 0, spl = 0, sps = 0, sl = 0, ss = 0;
#pragma omp simd reduction(+ : sp, spl, sps, sl, ss)
        for (int64_t j = 0; j < m; ++j) {
          const double l = static_cast<double>(s[j] / t);
          sp += pr[j];
          spl += static_cast<double>(pr[j]) * l;
          sps += static_cast<double>(pr[j]) * s[j];
          sl += l;
          ss += s[j];
        }
        qs = (1.0 - ls) * sp + ls;
        ql = (1.0 - ls) * spl + smooth * sl;
        qss = (1.0 - ls) * sps + smooth * ss;
      } else {
        target = p.index[i];
        double sl = 0, ss = 0;
        if (ls > 0) {
#pragma omp simd reduction(+ : sl, ss)
          for (int64_t j = 0; j < m; ++j) {
            sl += static_cast<double>(s[j] / t);
            ss += s[j];
          }
        }
        qs = 1.0;
        ql = (1.0 - ls) * static_cast<double>(s[target] / t) + smooth * sl;
        qss = (1.0 - ls) * static_cast<double>(s[target]) + smooth * ss;
      }
      loss += qs * lse - ql;
      if (!p.grad) continue;
      // dloss/dL_j = w * (qs * u_j / rs - q_j); dloss/dS = that / t (G may be S)
      const double a = w * qs / rs;
      gs += a * us - w * qss;
      T* g = G + i * m;
      if (p.row_labels) {
        const int64_t* cl = p.col_labels;
        const double k = w * inv_count;
#pragma omp simd
        for (int64_t j = 0; j < m; ++j) {
          const double q = cl[j] == label && j != x ? k : 0.0;
          g[j] = static_cast<T>((a * u[j] - q) * inv_t);
        }
      } else if (pr) {
#pragma omp simd
        for (int64_t j = 0; j < m; ++j) {
          const double q = (1.0 - ls) * pr[j] + smooth;
          g[j] = static_cast<T>((a * u[j] - w * q) * inv_t);
        }
      } else {
        const double k = w * smooth;
#pragma omp simd
        for (int64_t j = 0; j < m; ++j) g[j] = static_cast<T>((a * u[j] - k) * inv_t);
        // the one-hot part on its own, rounded as the reference's (softmax - onehot)
        g[target] -= static_cast<T>(w * (1.0 - ls) * inv_t);
      }
    }
    return std::array<double, 2>{loss, gs};
  });
  Result total;
  total.loss_rows = sums[0];
  total.gs = sums[1];
  return total;
}

#include "ce_kernels_symmetric.h"
#include "ce_kernels_blocks.h"

template <typename T>
Result run_impl(T* S, T* G, const Problem& p) {
  if (p.n == 0) return Result{};
  if (p.m == 0) return Result{false};  // no classes: the reference path says what that gives
  // leaving out a column: row-wise, unsmoothed, with another column left (else the reference path)
  if (p.exclude_from >= 0 && (p.symmetric || p.label_smoothing > 0 || p.m < 2)) return Result{false};
  if (p.row_labels && (p.symmetric || p.label_smoothing > 0 || !p.col_labels)) return Result{false};
  return p.symmetric ? symmetric(S, G, p) : rows_only(S, G, p);
}

// ---- SigLIP ------------------------------------------------------------------
// One pass per row while it is in cache: z = (T)(scale * s) + bias, l = y z,
// e = exp(-|l|) (the vectorised exp), softplus(-l) = max(-l, 0) + log1p(e)
// with the log1p terms summed as the log of their product (1 + e in [1, 2]:
// products of 256 stay far inside double's range), sigmoid(-l) = e / (1 + e)
// for l >= 0 and 1 / (1 + e) below.
template <typename T>
SigmoidResult sigmoid_impl(T* S, T* G, const SigmoidProblem& p) {
  const int64_t n = p.n, m = p.m;
  const T scale = static_cast<T>(p.scale), bias = static_cast<T>(p.bias);
  const T* Y = static_cast<const T*>(p.labels);
  // each task's loss and the two learnable parameters' gradient sums, added in the order of its rows
  const std::array<double, 3> sums = parallel_sums<3>(n, grain(m), [&](int64_t b, int64_t e) {
    std::vector<T> lbuf(static_cast<size_t>(m)), ebuf(static_cast<size_t>(m));
    T* l = lbuf.data();
    T* ex = ebuf.data();
    double loss = 0, gs = 0, gb = 0;
    for (int64_t i = b; i < e; ++i) {
      T* s = S + i * m;
      const T* yi = Y ? Y + i * m : nullptr;
      const int64_t pos = !Y && p.positive_from >= 0 ? p.positive_from + i : -1;
      double hinge = 0;
      if (yi) {
#pragma omp simd reduction(+ : hinge)
        for (int64_t j = 0; j < m; ++j) {
          const T lj = yi[j] * (static_cast<T>(scale * s[j]) + bias);
          l[j] = lj;
          ex[j] = lj < 0 ? lj : -lj;
          hinge += lj < 0 ? -static_cast<double>(lj) : 0.0;
        }
      } else {
        // SigLIP's layout: -1 everywhere, +1 at the row's positive (set after the loop)
#pragma omp simd reduction(+ : hinge)
        for (int64_t j = 0; j < m; ++j) {
          const T lj = -(static_cast<T>(scale * s[j]) + bias);
          l[j] = lj;
          ex[j] = lj < 0 ? lj : -lj;
          hinge += lj < 0 ? -static_cast<double>(lj) : 0.0;
        }
        if (pos >= 0 && pos < m) {
          const T lj = -l[pos];
          hinge += (lj < 0 ? -static_cast<double>(lj) : 0.0) - (l[pos] < 0 ? -static_cast<double>(l[pos]) : 0.0);
          l[pos] = lj;
        }
      }
      exp_inplace(ex, m);
      double logs = 0;
      for (int64_t j0 = 0; j0 < m; j0 += 256) {
        const int64_t j1 = std::min(m, j0 + 256);
        double prod = 1;
#pragma omp simd reduction(* : prod)
        for (int64_t j = j0; j < j1; ++j) prod *= 1.0 + static_cast<double>(ex[j]);
        logs += std::log(prod);
      }
      loss += hinge + logs;
      if (!p.grad) continue;
      T* g = G + i * m;
      const T ws = static_cast<T>(p.w * p.scale);
      double gsr = 0, gbr = 0;
      // dsoftplus(-y z)/dz = -y sigmoid(-l); y = l / z is +-1 here or the given label
#pragma omp simd reduction(+ : gsr, gbr)
      for (int64_t j = 0; j < m; ++j) {
        const T ej = ex[j];
        const T inv = T(1) / (T(1) + ej);
        const T sig = l[j] >= 0 ? ej * inv : inv;  // sigmoid(-l)
        const T y = yi ? yi[j] : (j == pos ? T(1) : T(-1));
        const T dz = -y * sig;
        gsr += static_cast<double>(dz) * s[j];
        gbr += dz;
        g[j] = ws * dz;
      }
      gs += gsr;
      gb += gbr;
    }
    return std::array<double, 3>{loss, gs, gb};
  });
  SigmoidResult total;
  total.loss = sums[0];
  total.gscale = sums[1];
  total.gbias = sums[2];
  total.gscale *= p.w;
  total.gbias *= p.w;
  return total;
}

}  // namespace

Result run(float* S, float* G, const Problem& p) { return run_impl(S, G, p); }
SigmoidResult sigmoid_run(float* S, float* G, const SigmoidProblem& p) { return sigmoid_impl(S, G, p); }
SigmoidResult sigmoid_run(double* S, double* G, const SigmoidProblem& p) { return sigmoid_impl(S, G, p); }
Result run(double* S, double* G, const Problem& p) { return run_impl(S, G, p); }
void symmetric_block_sums(const float* S, int64_t b, int64_t m, double t, double* rs, double* ru, double* cs, double* cu) {
  block_sums(S, b, m, t, rs, ru, cs, cu);
}
void symmetric_block_sums(const double* S, int64_t b, int64_t m, double t, double* rs, double* ru, double* cs, double* cu) {
  block_sums(S, b, m, t, rs, ru, cs, cu);
}
void symmetric_block_grad(float* S, int64_t b, int64_t m, double t, const double* a, const double* bc, const int64_t* index,
                          double w_target) {
  block_grad(S, b, m, t, a, bc, index, w_target);
}
void symmetric_block_grad(double* S, int64_t b, int64_t m, double t, const double* a, const double* bc, const int64_t* index,
                          double w_target) {
  block_grad(S, b, m, t, a, bc, index, w_target);
}

#if PAIRLOSS_CE_AVX2
bool have_sleef() { return sleef().f8 != nullptr; }
#endif

}  // namespace pairloss::ce::PAIRLOSS_CE_NS
