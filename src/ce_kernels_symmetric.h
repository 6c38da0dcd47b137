// The symmetric cross entropy of ce_kernels.h's run() (rows and columns of
// a square block at once): part of ce_kernels_impl.h, included there inside
// its build's namespace (PAIRLOSS_CE_NS, anonymous), after the helpers it
// uses (exp_inplace, fine_grain) and the headers it needs.

// ---- symmetric: rows and columns ------------------------------------------------
// u_j = exp(L_j - c), L_j = (T)(s_j / t) as the reference rounds the logits,
// and c a constant above every cosine logit less a margin (see symmetric()):
// not the row's max, so the exp's argument is not small where the
// reference's L - max is, and must be formed without rounding it.
// double: L - c is exact in double, and double's exp is far inside tolerance.
// float: L - c = hi + lo exactly (Knuth's TwoSum; hi = fl(L - c), |lo| <=
// ulp(hi) / 2), and exp(hi + lo) = exp(hi) (1 + lo + lo^2 / 2 + ...). Where
// the result is not below float's normal range (-87 < hi <= 81), |lo| <=
// 2^-18 (ulp(87) / 2), so dropping lo^2 / 2 costs < 2^-37 relative. u = e +
// e * lo with e = expf(hi) (SLEEF's u10 or the C library's: <= 1 ulp) is then
// within 1.5 ulp + 2^-37 of exp(L - c): under 2e-7 relative, a float32 exp in
// float32 arithmetic. That is as close as the reference gets itself: its
// exp(L - max) is 1 ulp from an argument rounded once in float, and its
// log-softmax backward (exp of the rounded log-probability) is further.
void shifted_exp(const double* s, double* u, double* /*scratch*/, int64_t m, double t, double c) {
#pragma omp simd
  for (int64_t j = 0; j < m; ++j) u[j] = s[j] / t - c;
  exp_inplace(u, m);
}

// (unused where the AVX2 build's one-sweep row pass takes float32)
[[maybe_unused]] void shifted_exp(const float* s, float* u, float* lo, int64_t m, float t, float c) {
#pragma omp simd
  for (int64_t j = 0; j < m; ++j) {
    const float l = s[j] / t;
    const float hi = l - c;
    // TwoSum(l, -c): additions only, so no contraction can touch it
    const float bv = hi - l;
    const float av = hi - bv;
    lo[j] = (l - av) + (-c - bv);
    u[j] = hi;
  }
  exp_inplace(u, m);
#pragma omp simd
  for (int64_t j = 0; j < m; ++j) u[j] = u[j] + u[j] * lo[j];
}

#if PAIRLOSS_CE_AVX2
// exp(hi + lo) for 8 floats, |lo| <= 2^-18: SLEEF's xexpf (the u10
// algorithm LibTorch's AVX2 softmax calls: Cody-Waite reduction by q ln 2,
// a degree-7 polynomial, a two-step ldexp) inline, with lo added to the
// reduced argument (|s| <= 0.35: the sum rounds at 2^-26 absolute, 1/4 ulp
// of the result). 0 below -104, as SLEEF's.
inline __m256 exp_hilo(__m256 hi, __m256 lo) {
  const __m256 q = _mm256_round_ps(_mm256_mul_ps(hi, _mm256_set1_ps(1.442695040888963407359924681001892137f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 s = _mm256_fmadd_ps(q, _mm256_set1_ps(-0.693145751953125f), hi);
  s = _mm256_fmadd_ps(q, _mm256_set1_ps(-1.428606765330187045e-06f), s);
  s = _mm256_add_ps(s, lo);
  __m256 u = _mm256_set1_ps(0.000198527617612853646278381f);
  u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.00139304355252534151077271f));
  u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.00833336077630519866943359f));
  u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.0416664853692054748535156f));
  u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.166666671633720397949219f));
  u = _mm256_fmadd_ps(u, s, _mm256_set1_ps(0.5f));
  u = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_mul_ps(s, s), u, s));
  // u * 2^q as u * 2^(q >> 1) * 2^(q - (q >> 1)): both factors normal down to q = -252
  const __m256i qi = _mm256_cvtps_epi32(q);
  const __m256i q1 = _mm256_srai_epi32(qi, 1), q2 = _mm256_sub_epi32(qi, q1);
  const __m256i bias = _mm256_set1_epi32(0x7f);
  u = _mm256_mul_ps(u, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(q1, bias), 23)));
  u = _mm256_mul_ps(u, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(q2, bias), 23)));
  return _mm256_andnot_ps(_mm256_cmp_ps(hi, _mm256_set1_ps(-104.0f), _CMP_LT_OQ), u);
}

// Pass 1 of one float row in one sweep, 8 lanes at a time: L = s / t, hi +
// lo = L - c (TwoSum), u = exp(hi + lo) into dst (which may be s itself: each
// lane group is read before it is written), and in double the row's sum u and
// sum u * s and the columns' running sums. The row's tail goes through a
// padded lane group.
void row_pass_f32(const float* s, float* dst, int64_t m, float t, float c, double* pcs, double* pcu, double& r,
                  double& rus) {
  const __m256 vt = _mm256_set1_ps(t), vnc = _mm256_set1_ps(-c);
  __m256d r0 = _mm256_setzero_pd(), r1 = _mm256_setzero_pd(), q0 = _mm256_setzero_pd(), q1 = _mm256_setzero_pd();
  auto lanes = [&](const float* sp, float* up, double* cs, double* cu) {
    const __m256 sv = _mm256_loadu_ps(sp);
    const __m256 l = _mm256_div_ps(sv, vt);
    const __m256 hi = _mm256_add_ps(l, vnc);
    const __m256 bv = _mm256_sub_ps(hi, l);
    const __m256 lo = _mm256_add_ps(_mm256_sub_ps(l, _mm256_sub_ps(hi, bv)), _mm256_sub_ps(vnc, bv));
    const __m256 u = exp_hilo(hi, lo);
    _mm256_storeu_ps(up, u);
    const __m256d ul = _mm256_cvtps_pd(_mm256_castps256_ps128(u)), uh = _mm256_cvtps_pd(_mm256_extractf128_ps(u, 1));
    const __m256d sl = _mm256_cvtps_pd(_mm256_castps256_ps128(sv)), sh = _mm256_cvtps_pd(_mm256_extractf128_ps(sv, 1));
    r0 = _mm256_add_pd(r0, ul);
    r1 = _mm256_add_pd(r1, uh);
    q0 = _mm256_fmadd_pd(ul, sl, q0);
    q1 = _mm256_fmadd_pd(uh, sh, q1);
    _mm256_storeu_pd(cs, _mm256_add_pd(_mm256_loadu_pd(cs), ul));
    _mm256_storeu_pd(cs + 4, _mm256_add_pd(_mm256_loadu_pd(cs + 4), uh));
    _mm256_storeu_pd(cu, _mm256_fmadd_pd(ul, sl, _mm256_loadu_pd(cu)));
    _mm256_storeu_pd(cu + 4, _mm256_fmadd_pd(uh, sh, _mm256_loadu_pd(cu + 4)));
  };
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) lanes(s + j, dst + j, pcs + j, pcu + j);
  if (j < m) {
    // the tail: s padded with -1 (any finite cosine would do), the lane
    // group's u and column sums kept for the tail's own lanes only
    alignas(32) float st[8] = {-1, -1, -1, -1, -1, -1, -1, -1}, ut[8];
    alignas(32) double ct[8] = {0, 0, 0, 0, 0, 0, 0, 0}, cut[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int64_t k = m - j;
    std::copy(s + j, s + m, st);
    __m256d a0 = r0, a1 = r1, b0 = q0, b1 = q1;
    lanes(st, ut, ct, cut);
    // drop the padding lanes' share of the row sums: redo them lane by lane
    r0 = a0;
    r1 = a1;
    q0 = b0;
    q1 = b1;
    double rt = 0, qt = 0;
    for (int64_t x = 0; x < k; ++x) {
      rt += ut[x];
      qt += static_cast<double>(ut[x]) * st[x];
      pcs[j + x] += ct[x];
      pcu[j + x] += cut[x];
      dst[j + x] = ut[x];
    }
    r0 = _mm256_add_pd(r0, _mm256_set_pd(0, 0, 0, rt));
    q0 = _mm256_add_pd(q0, _mm256_set_pd(0, 0, 0, qt));
  }
  alignas(32) double ra[4], qa[4];
  _mm256_store_pd(ra, _mm256_add_pd(r0, r1));
  _mm256_store_pd(qa, _mm256_add_pd(q0, q1));
  r = (ra[0] + ra[1]) + (ra[2] + ra[3]);
  rus = (qa[0] + qa[1]) + (qa[2] + qa[3]);
}
#endif

// Subnormal float results flushed to 0 (MXCSR's FTZ bit) while one lives,
// on this thread; the caller's mode back after.
struct FlushToZero {
#if defined(__x86_64__)
  unsigned int saved = _mm_getcsr();
  FlushToZero() { _mm_setcsr(saved | _MM_FLUSH_ZERO_ON); }
  ~FlushToZero() { _mm_setcsr(saved); }
#else
  FlushToZero() {}
#endif
  FlushToZero(const FlushToZero&) = delete;
  FlushToZero& operator=(const FlushToZero&) = delete;
};

// Pass 1 of a row in one sweep (row_pass_f32): float in the AVX2 build.
template <typename T>
constexpr bool kOneSweep = PAIRLOSS_CE_AVX2 && std::is_same<T, float>::value;

// Pass 1 of one row: u = exp(s / t - c) and its sums, r = sum u, rus =
// sum u s, with u and u s added to the column partials pcs and pcu. The
// one-sweep form writes u into dst; the other into u (lo: its scratch).
template <typename T>
void row_exp_sums(const T* s, T* dst, T* u, T* lo, int64_t m, T t, T c, double* pcs, double* pcu, double& r,
                  double& rus) {
#if PAIRLOSS_CE_AVX2
  if constexpr (kOneSweep<T>) {
    row_pass_f32(s, dst, m, t, c, pcs, pcu, r, rus);
  } else
#endif
  {
    (void)dst;
    shifted_exp(s, u, lo, m, t, c);
#pragma omp simd reduction(+ : r, rus)
    for (int64_t j = 0; j < m; ++j) {
      const double uj = u[j];
      r += uj;
      rus += uj * s[j];
      pcs[j] += uj;
      pcu[j] += uj * s[j];
    }
  }
}

// u = exp(L - c), shared by both directions: pass 1 writes u into G and
// gathers the row and column sums, pass 2 turns u into the gradient in place.
// Cosine logits are at most 1 / t (up to rounding), so c = 1 / t is the
// largest logit's bound, and every u is at most 1. double takes that c. float
// takes c = 1 / t - 80: u is then at most e^80 (float holds e^88), and the
// u of a logit up to 167 below the bound is a normal float, not a subnormal
// one, whose arithmetic costs ~100 cycles an operation on x86 (at
// temperature 0.01 that is any cosine above -0.67; with c = 1 / t the
// negatives of a trained model, cosine ~0, were all subnormal there). c only
// shifts every u by one factor: the loss is c + log(sum u), the gradient
// u / sum u (a row or column sum that overflows would say so: `ok` false).
template <typename T>
Result symmetric(T* S, T* G, const Problem& p) {
  const int64_t n = p.n, m = p.m;  // n == m
  const T t = static_cast<T>(p.temperature);
  const double inv_t = 1.0 / static_cast<double>(t);
  const T c = symmetric_shift<T>(t);
  const double ls = p.label_smoothing;
  const double smooth_r = ls / static_cast<double>(m), smooth_c = ls / static_cast<double>(n);
  const T* P = static_cast<const T*>(p.probs);
  const bool want_logit_sums = ls > 0 || P;

  std::vector<double> rs(static_cast<size_t>(n)), ru(static_cast<size_t>(n));      // row sum u, sum u*s
  std::vector<double> cs(static_cast<size_t>(m), 0.0), cu(static_cast<size_t>(m), 0.0);
  std::vector<double> rq(static_cast<size_t>(n), 1.0), cq(static_cast<size_t>(m), 1.0);  // q sums
  double total_l = 0, total_s = 0, total_pl = 0, total_ps = 0;  // sums of logits, s, p*logit, p*s
  std::vector<T> target_s;  // s at each row's target (index targets)
  if (!P) {
    target_s.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) target_s[i] = S[i * m + p.index[i]];
  }
  // Each task's column sums and totals, merged below in the order of its
  // rows (not of completion), so that the result does not depend on timing.
  struct Part {
    int64_t begin;
    std::vector<double> cs, cu, cp;
    double tl, ts, tpl, tps;
  };
  std::vector<Part> parts;
  std::mutex mutex;
  at::parallel_for(0, n, fine_grain(m), [&](int64_t b, int64_t e) {
    std::vector<T> buf(static_cast<size_t>(m)), low(static_cast<size_t>(m));
    T* x = low.data();
    std::vector<double> lcs(static_cast<size_t>(m), 0.0), lcu(static_cast<size_t>(m), 0.0);
    std::vector<double> lcp(P ? static_cast<size_t>(m) : 0, 0.0);
    double* pcs = lcs.data();
    double* pcu = lcu.data();
    double* pcp = lcp.data();
    T* u = buf.data();
    double tl = 0, ts = 0, tpl = 0, tps = 0;
    for (int64_t i = b; i < e; ++i) {
      const T* s = S + i * m;
      // u straight into G where nothing reads s after it (G may be S)
      T* const dst = kOneSweep<T> && p.grad && !want_logit_sums ? G + i * m : u;
      double r = 0, rus = 0;
      row_exp_sums(s, dst, u, x, m, t, c, pcs, pcu, r, rus);
      rs[i] = r;
      ru[i] = rus;
      if (want_logit_sums) {
        double sl = 0, ss = 0;
#pragma omp simd reduction(+ : sl, ss)
        for (int64_t j = 0; j < m; ++j) {
          sl += static_cast<double>(s[j] / t);
          ss += s[j];
        }
        tl += sl;
        ts += ss;
      }
      if (P) {
        const T* pr = P + i * m;
        double sp = 0, spl = 0, sps = 0;
#pragma omp simd reduction(+ : sp, spl, sps)
        for (int64_t j = 0; j < m; ++j) {
          sp += pr[j];
          spl += static_cast<double>(pr[j]) * static_cast<double>(s[j] / t);
          sps += static_cast<double>(pr[j]) * s[j];
          pcp[j] += pr[j];
        }
        rq[i] = (1.0 - ls) * sp + ls;
        tpl += spl;
        tps += sps;
      }
      if (p.grad && dst == u) std::copy(u, u + m, G + i * m);
    }
    std::lock_guard<std::mutex> lock(mutex);
    parts.push_back(Part{b, std::move(lcs), std::move(lcu), std::move(lcp), tl, ts, tpl, tps});
  });
  std::sort(parts.begin(), parts.end(), [](const Part& x, const Part& y) { return x.begin < y.begin; });
  for (const Part& part : parts) {
    for (int64_t j = 0; j < m; ++j) {
      cs[j] += part.cs[j];
      cu[j] += part.cu[j];
    }
    if (P) {
      for (int64_t j = 0; j < m; ++j) cq[j] += part.cp[j];  // cq starts at 1: fixed below
    }
    total_l += part.tl;
    total_s += part.ts;
    total_pl += part.tpl;
    total_ps += part.tps;
  }
  if (P) {
    for (int64_t j = 0; j < m; ++j) cq[j] = (1.0 - ls) * (cq[j] - 1.0) + ls;
  }

  // A row or column whose largest logit is far below c underflows (or one
  // far above it overflows, which cosine logits cannot): the caller takes the
  // row-block path (per-row and per-column maxima, chunked.cpp).
  const double tiny = std::is_same<T, float>::value ? 1e-30 : 1e-290;
  const double huge = std::numeric_limits<double>::max();
  for (int64_t i = 0; i < n; ++i)
    if (rs[i] < tiny || rs[i] > huge) return Result{false};
  for (int64_t j = 0; j < m; ++j)
    if (cs[j] < tiny || cs[j] > huge) return Result{false};

  Result r;
  // sum over all elements of q * logit and q * s, the same for both directions (n == m)
  double ql_r, ql_c, qs_r, qs_c;
  if (P) {
    ql_r = (1.0 - ls) * total_pl + smooth_r * total_l;
    ql_c = (1.0 - ls) * total_pl + smooth_c * total_l;
    qs_r = (1.0 - ls) * total_ps + smooth_r * total_s;
    qs_c = (1.0 - ls) * total_ps + smooth_c * total_s;
  } else {
    double tl = 0, tsum = 0;
    for (int64_t i = 0; i < n; ++i) {
      tl += static_cast<double>(target_s[i] / t);
      tsum += target_s[i];
    }
    ql_r = (1.0 - ls) * tl + smooth_r * total_l;
    ql_c = (1.0 - ls) * tl + smooth_c * total_l;
    qs_r = (1.0 - ls) * tsum + smooth_r * total_s;
    qs_c = (1.0 - ls) * tsum + smooth_c * total_s;
  }
  double lr = 0, lc = 0;
  for (int64_t i = 0; i < n; ++i) lr += rq[i] * (static_cast<double>(c) + std::log(rs[i]));
  for (int64_t j = 0; j < m; ++j) lc += cq[j] * (static_cast<double>(c) + std::log(cs[j]));
  r.loss_rows = lr - ql_r;
  r.loss_cols = lc - ql_c;
  if (!p.grad) return r;

  // dloss/dL_ij = u_ij (a_i + b_j) - (w_r q_ij + w_c q'_ij), a_i = w_r qs_i / rs_i, b_j = w_c qs'_j / cs_j
  std::vector<double> a(static_cast<size_t>(n)), bcol(static_cast<size_t>(m));
  double gs = 0;
  for (int64_t i = 0; i < n; ++i) {
    a[i] = p.w_rows * rq[i] / rs[i];
    gs += a[i] * ru[i];
  }
  for (int64_t j = 0; j < m; ++j) {
    bcol[j] = p.w_cols * cq[j] / cs[j];
    gs += bcol[j] * cu[j];
  }
  gs -= p.w_rows * qs_r + p.w_cols * qs_c;
  r.gs = gs;
  const double* pb = bcol.data();
  // float without label smoothing: g = u (a_i / t + b_j / t) in float, each
  // factor rounded once from double: within 1.5 ulp of the double product
  // (which rounds once), on a u within 1.5 ulp of exact. Where a smoothing
  // term is subtracted (which can cancel) or for double, in double.
  const bool float_scale = std::is_same<T, float>::value && !P && ls == 0;
  std::vector<T> bscaled(float_scale ? static_cast<size_t>(m) : 0);
  T* pbs = bscaled.data();
  if (float_scale) {
    for (int64_t j = 0; j < m; ++j) pbs[j] = static_cast<T>(pb[j] * inv_t);
  }
  at::parallel_for(0, n, fine_grain(m), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T* g = G + i * m;
      const double ai = a[i];
      if (float_scale) {
        // entries below float's normal range (|g| < 1.2e-38: u of a logit far
        // below its row's and column's largest, e.g. every negative of a
        // trained model at temperature 0.01) are flushed to 0: float
        // arithmetic with subnormal results costs ~100 cycles an operation
        FlushToZero ftz;
        const int64_t target = p.index[i];
        const double ut = g[target];
        const T as = static_cast<T>(ai * inv_t);
#pragma omp simd
        for (int64_t j = 0; j < m; ++j) g[j] = g[j] * (as + pbs[j]);
        g[target] = static_cast<T>((ut * (ai + pb[target]) - (p.w_rows + p.w_cols)) * inv_t);
      } else if (P) {
        const T* pr = P + i * m;
#pragma omp simd
        for (int64_t j = 0; j < m; ++j) {
          const double k = p.w_rows * ((1.0 - ls) * pr[j] + smooth_r) + p.w_cols * ((1.0 - ls) * pr[j] + smooth_c);
          g[j] = static_cast<T>((g[j] * (ai + pb[j]) - k) * inv_t);
        }
      } else {
        const int64_t target = p.index[i];
        const double k = p.w_rows * smooth_r + p.w_cols * smooth_c;
        const double ut = g[target];
#pragma omp simd
        for (int64_t j = 0; j < m; ++j) g[j] = static_cast<T>((g[j] * (ai + pb[j]) - k) * inv_t);
        // the target of row i is column t_i, whose own target is row i
        g[target] = static_cast<T>((ut * (ai + pb[target]) - k - (p.w_rows + p.w_cols) * (1.0 - ls)) * inv_t);
      }
    }
  });
  return r;
}

