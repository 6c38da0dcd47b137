// ce_kernels.h's symmetric_block_sums() and symmetric_block_grad(): the
// symmetric form's two passes (ce_kernels_symmetric.h) over one block of rows
// at a time, for chunked.cpp. Part of ce_kernels_impl.h, included there inside
// its build's namespace after ce_kernels_symmetric.h, whose helpers
// (shifted_exp, row_exp_sums, FlushToZero, kOneSweep) it uses.

#if PAIRLOSS_CE_AVX2
// u = exp(L - c) of one float row, exactly as row_pass_f32 forms it (the same
// lane arithmetic, the tail padded the same way), without the sums.
void row_u_f32(const float* s, float* dst, int64_t m, float t, float c) {
  const __m256 vt = _mm256_set1_ps(t), vnc = _mm256_set1_ps(-c);
  auto lanes = [&](const float* sp, float* up) {
    const __m256 l = _mm256_div_ps(_mm256_loadu_ps(sp), vt);
    const __m256 hi = _mm256_add_ps(l, vnc);
    const __m256 bv = _mm256_sub_ps(hi, l);
    const __m256 lo = _mm256_add_ps(_mm256_sub_ps(l, _mm256_sub_ps(hi, bv)), _mm256_sub_ps(vnc, bv));
    _mm256_storeu_ps(up, exp_hilo(hi, lo));
  };
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) lanes(s + j, dst + j);
  if (j < m) {
    alignas(32) float st[8] = {-1, -1, -1, -1, -1, -1, -1, -1}, ut[8];
    std::copy(s + j, s + m, st);
    lanes(st, ut);
    std::copy(ut, ut + (m - j), dst + j);
  }
}
#endif

// u of one row into u (lo: scratch of m), as pass 1 of symmetric() forms it in this build.
template <typename T>
void block_row_u(const T* s, T* u, T* lo, int64_t m, T t, T c) {
#if PAIRLOSS_CE_AVX2
  if constexpr (kOneSweep<T>) {
    row_u_f32(s, u, m, t, c);
    return;
  }
#endif
  shifted_exp(s, u, lo, m, t, c);
}

template <typename T>
void block_sums(const T* S, int64_t b, int64_t m, double temperature, double* rs, double* ru, double* cs, double* cu) {
  const T t = static_cast<T>(temperature);
  const T c = symmetric_shift<T>(t);
  // each task's column sums, added to cs and cu in the order of its rows (not of completion)
  parallel_column_sums(b, fine_grain(m), m, cs, cu, [&](int64_t rb, int64_t re, double* pcs, double* pcu) {
    std::vector<T> buf(static_cast<size_t>(m)), low(kOneSweep<T> ? 0 : static_cast<size_t>(m));
    T* u = buf.data();
    for (int64_t i = rb; i < re; ++i) {
      const T* s = S + i * m;
      double r = 0, rus = 0;
      row_exp_sums(s, u, u, low.data(), m, t, c, pcs, pcu, r, rus);
      rs[i] = r;
      ru[i] = rus;
    }
  });
}

// G = dloss/dS in S's memory: u (a_i + b_j) / t, less (w_r + w_c) / t at the
// row's target; float as symmetric()'s float_scale form, double in double.
template <typename T>
void block_grad(T* S, int64_t b, int64_t m, double temperature, const double* a, const double* bcol,
                const int64_t* index, double w_target) {
  const T t = static_cast<T>(temperature);
  const T c = symmetric_shift<T>(t);
  const double inv_t = 1.0 / static_cast<double>(t);
  constexpr bool is_float = std::is_same<T, float>::value;
  std::vector<T> bscaled(is_float ? static_cast<size_t>(m) : 0);
  T* pbs = bscaled.data();
  if (is_float) {
    for (int64_t j = 0; j < m; ++j) pbs[j] = static_cast<T>(bcol[j] * inv_t);
  }
  at::parallel_for(0, b, fine_grain(m), [&](int64_t rb, int64_t re) {
    std::vector<T> buf(static_cast<size_t>(m)), low(kOneSweep<T> ? 0 : static_cast<size_t>(m));
    T* u = buf.data();
    for (int64_t i = rb; i < re; ++i) {
      T* g = S + i * m;
      block_row_u(g, u, low.data(), m, t, c);
      const double ai = a[i];
      const int64_t target = index[i];
      const double ut = u[target];
      if constexpr (is_float) {
        // float results below the normal range flushed to 0, as symmetric()'s
        FlushToZero ftz;
        const T as = static_cast<T>(ai * inv_t);
#pragma omp simd
        for (int64_t j = 0; j < m; ++j) g[j] = u[j] * (as + pbs[j]);
      } else {
#pragma omp simd
        for (int64_t j = 0; j < m; ++j) g[j] = static_cast<T>(u[j] * (ai + bcol[j]) * inv_t);
      }
      g[target] = static_cast<T>((ut * (ai + bcol[target]) - w_target) * inv_t);
    }
  });
}
