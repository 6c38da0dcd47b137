#include "chunked.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "blas.h"
#include "ce_kernels.h"
#include "errors.h"
#include "parallel.h"

namespace pairloss {

namespace {

constexpr int64_t kDefaultBudget = int64_t(256) << 20;  // bytes of one N x M matrix
constexpr int64_t kBlockBytes = int64_t(32) << 20;      // bytes of one block matrix

// PAIRLOSS_CHUNK_BYTES (an integer; 0: always chunk, negative: never), read once at load.
int64_t budget_from_env() {
  const char* v = std::getenv("PAIRLOSS_CHUNK_BYTES");
  if (v == nullptr || *v == '\0') return kDefaultBudget;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  return (end == v || *end != '\0') ? kDefaultBudget : static_cast<int64_t>(x);
}

// PAIRLOSS_CHUNK_ROWS (an integer >= 0; 0: sized to ~32 MiB blocks), read once at load:
// tests of processes they start (a group's ranks) force small blocks with it.
int64_t rows_from_env() {
  const char* v = std::getenv("PAIRLOSS_CHUNK_ROWS");
  if (v == nullptr || *v == '\0') return 0;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  return (end == v || *end != '\0' || x < 0) ? 0 : static_cast<int64_t>(x);
}

std::atomic<int64_t> chunk_rows{rows_from_env()};
std::atomic<int64_t> chunk_budget{budget_from_env()};
std::atomic<int64_t> chunk_calls{0};

// ce_kernels.h's block passes over a block's rows in tasks on LibTorch's
// threads: at::parallel_for is inline code whose OpenMP region exists only
// where the caller is compiled with OpenMP, as this file is (CMakeLists.txt)
// and ce_kernels' files are not (their loops run on the calling thread).
// Each task's column sums are its own, added to cs and cu in the order of its
// rows (not of completion), so that the result does not depend on timing.
template <typename T>
void block_sums(const T* S, int64_t b, int64_t m, double t, double* rs, double* ru, double* cs, double* cu) {
  parallel_column_sums(b, fine_grain(m), m, cs, cu, [&](int64_t ib, int64_t ie, double* pcs, double* pcu) {
    ce::symmetric_block_sums(S + ib * m, ie - ib, m, t, rs + ib, ru + ib, pcs, pcu);
  });
}

// dloss/dS of a block's rows in place, in tasks as block_sums (row by row: no sums to merge).
template <typename T>
void block_grad(T* S, int64_t b, int64_t m, double t, const double* a, const double* bcol, const int64_t* idx,
                double w_target) {
  at::parallel_for(0, b, fine_grain(m), [&](int64_t ib, int64_t ie) {
    ce::symmetric_block_grad(S + ib * m, ie - ib, m, t, a + ib, bcol, idx + ib, w_target);
  });
}

// The symmetric loss with index targets and no label smoothing, as the
// fused kernel computes it (ce_kernels.h's block form of its symmetric pass):
// one shift c for every exponential, u = exp(L - c), so that each pass takes
// one exp an element and no row or column maxima. Pass 1 forms each block of
// S and gathers the row and column sums; pass 2 forms it again (the minimum
// without holding the N x M matrix: the column-wise softmax needs every row
// first), turns it into dloss/dS in place and does the two products. Returns
// the loss and sum(dloss/dL * S), empty where the shift underflows a row or a
// column (the caller then takes the per-row and per-column maxima below).
template <typename T>
std::optional<std::pair<double, double>> one_shift(const T* y1, const T* y2, const int64_t* idx, int64_t n, int64_t m,
                                                   int64_t d, int64_t rows, T t, double w_r, double w_c, bool grad,
                                                   at::Tensor& g1, at::Tensor& g2, const at::TensorOptions& options) {
  at::Tensor Sbuf = at::empty({rows, m}, options);
  T* S = Sbuf.data_ptr<T>();
  std::vector<double> rs(static_cast<size_t>(n)), ru(static_cast<size_t>(n));
  std::vector<double> cs(static_cast<size_t>(m), 0.0), cu(static_cast<size_t>(m), 0.0);
  double tl = 0, tsum = 0;  // the target logits (rounded as the reference rounds them) and similarities
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    const int64_t b = std::min(rows, n - r0);
    blas::mm(y1 + r0 * d, false, y2, true, S, b, m, d);
    block_sums(S, b, m, static_cast<double>(t), rs.data() + r0, ru.data() + r0, cs.data(), cu.data());
    for (int64_t i = 0; i < b; ++i) {
      const T st = S[i * m + idx[r0 + i]];
      tl += static_cast<double>(st / t);
      tsum += st;
    }
  }
  const double tiny = std::is_same<T, float>::value ? 1e-30 : 1e-290;
  const double huge = std::numeric_limits<double>::max();
  for (const std::vector<double>* v : {&rs, &cs}) {
    for (const double x : *v)
      if (!(x >= tiny && x <= huge)) return std::nullopt;
  }
  const double c = static_cast<double>(ce::symmetric_shift<T>(t));
  double lr = 0, lc = 0;
  for (int64_t i = 0; i < n; ++i) lr += c + std::log(rs[i]);
  for (int64_t j = 0; j < m; ++j) lc += c + std::log(cs[j]);
  // w_r = r_rows / 2, w_c = r_cols / 2: the mean of the two directions' means
  const double loss = w_r * (lr - tl) + w_c * (lc - tl);
  if (!grad) return std::make_pair(loss, 0.0);
  std::vector<double> a(static_cast<size_t>(n)), bcol(static_cast<size_t>(m));
  double gs = -(w_r + w_c) * tsum;
  for (int64_t i = 0; i < n; ++i) {
    a[i] = w_r / rs[i];
    gs += a[i] * ru[i];
  }
  for (int64_t j = 0; j < m; ++j) {
    bcol[j] = w_c / cs[j];
    gs += bcol[j] * cu[j];
  }
  T* pg1 = g1.data_ptr<T>();
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    const int64_t b = std::min(rows, n - r0);
    blas::mm(y1 + r0 * d, false, y2, true, S, b, m, d);
    block_grad(S, b, m, static_cast<double>(t), a.data() + r0, bcol.data(), idx + r0, w_r + w_c);
    // dy1 = dS @ y2 (this block's rows), dy2 += dS.T @ y1 (this block's share)
    blas::mm(S, false, y2, false, pg1 + r0 * d, b, d, m);
    if (r0 == 0) {
      blas::mm(S, true, y1, false, g2.data_ptr<T>(), m, d, b);
    } else {
      const at::Tensor G = Sbuf.narrow(0, 0, b);
      const at::Tensor Y = at::from_blob(const_cast<T*>(y1 + r0 * d), {b, d}, options);
      g2.addmm_(G.t(), Y);
    }
  }
  return std::make_pair(loss, gs);
}

// Notation: block rows i (global row r0 + i), columns j; S the block's
// similarities, L = S / temperature its logits. The cross-entropy target of
// entry (i, j), row-wise (M classes) and column-wise (N classes), is
// q_ij = (1 - ls) p_ij + ls / classes, where p is one-hot at the row's class
// index or the given probabilities. For the symmetric loss the index targets
// are a permutation and M = N, so the column-wise target of (i, j) is the
// same entry: one q serves both.
template <typename T>
std::optional<NpairsResult> chunked_impl(const at::Tensor& x1_in, const at::Tensor& x2_in, const at::Tensor& target,
                                         const NpairsOptions& o, bool try_one_shift) {
  const at::Tensor x1 = x1_in.contiguous(), x2 = x2_in.contiguous();
  const int64_t n = x1.size(0), m = x2.size(0), d = x1.size(1);
  // D = 1 goes to the reference path, as in fused.cpp: every normalised row
  // is +-1, the exact gradient is 0, and PyTorch returns rounding noise of up
  // to ~4e-6 (float32) that only its own sequence of roundings reproduces.
  if (d == 1) return std::nullopt;
  const T temperature = static_cast<T>(o.temperature);
  const double inv_t = 1.0 / static_cast<double>(temperature);
  const bool sym = o.symmetric, grad = o.grad;

  // the normalised rows (a row with norm below eps: the reference path). The
  // norms come from LibTorch's own kernel, as F.normalize's: at a small
  // temperature the chunked path's two passes amplify the last bit of a norm
  // beyond float32's tolerance (the fused path's norms differ from it by an
  // ulp in a few rows; seed 507478237 of test/chunked.test.ts, T = 0.01).
  at::Tensor norm1 = x1.norm(2.0, {1}, /*keepdim=*/false), norm2 = x2.norm(2.0, {1}, /*keepdim=*/false);
  if (norm1.min().item<T>() < static_cast<T>(o.eps) || norm2.min().item<T>() < static_cast<T>(o.eps)) return std::nullopt;
  at::Tensor x1n = at::empty_like(x1), x2n = at::empty_like(x2);
  ce::divide_rows(x1.data_ptr<T>(), norm1.data_ptr<T>(), x1n.data_ptr<T>(), n, d, o.eps);
  ce::divide_rows(x2.data_ptr<T>(), norm2.data_ptr<T>(), x2n.data_ptr<T>(), m, d, o.eps);

  // no target: SupCon's labels (NpairsOptions::labels), compared in the row kernel (row-wise only)
  const bool by_labels = !target.defined();
  if (by_labels && (sym || !o.labels.defined())) return std::nullopt;
  const bool probs = !by_labels && at::isFloatingType(target.scalar_type());
  const at::Tensor tc = by_labels ? target : target.contiguous();
  const T* P = probs ? tc.data_ptr<T>() : nullptr;
  const int64_t* idx = probs || by_labels ? nullptr : tc.data_ptr<int64_t>();
  const int64_t* row_labels = by_labels ? o.labels.data_ptr<int64_t>() : nullptr;
  const int64_t* col_labels = by_labels ? (o.column_labels.defined() ? o.column_labels : o.labels).data_ptr<int64_t>() : nullptr;
  const double ls = o.label_smoothing, keep = 1.0 - ls;
  const double sm_r = ls / static_cast<double>(m), sm_c = ls / static_cast<double>(n);
  const bool mean = o.reduction == Reduction::Mean;
  const double half = sym ? 0.5 : 1.0;
  const double r_rows = mean ? 1.0 / n : 1.0, r_cols = mean ? 1.0 / m : 1.0;
  const double w_r = half * r_rows, w_c = half * r_cols;
  const T neg_inf = -std::numeric_limits<T>::infinity();

  int64_t rows = chunk_rows.load();
  if (rows <= 0) rows = std::max<int64_t>(1, kBlockBytes / (m * static_cast<int64_t>(sizeof(T))));
  rows = std::min(rows, n);

  at::Tensor g1, g2;
  if (grad) {
    g1 = at::empty({n, d}, x1.options());
    g2 = at::zeros({m, d}, x1.options());
  }
  const at::Tensor x2nt = x2n.t();
  // the sums of the losses and of dloss/dL * S, and the gradients from dloss/dx1n, dloss/dx2n
  const auto finish = [&](double loss, double gs) {
    NpairsResult r;
    if (o.l2_reg > 0.0) {
      double s1 = 0, s2 = 0;
      const T* a = norm1.data_ptr<T>();
      const T* bn = norm2.data_ptr<T>();
      for (int64_t i = 0; i < n; ++i) s1 += static_cast<double>(a[i]) * a[i];
      for (int64_t j = 0; j < m; ++j) s2 += static_cast<double>(bn[j]) * bn[j];
      loss += 0.25 * o.l2_reg * (s1 / n + s2 / m);
    }
    r.loss = loss;
    if (grad) {
      // logits = S / temperature: dtemperature = -sum(dloss/dL * S) / temperature^2
      r.grad_temperature = -gs / (static_cast<double>(temperature) * temperature);
      ce::normalize_backward(g1.data_ptr<T>(), x1n.data_ptr<T>(), norm1.data_ptr<T>(), n, d, o.eps);
      ce::normalize_backward(g2.data_ptr<T>(), x2n.data_ptr<T>(), norm2.data_ptr<T>(), m, d, o.eps);
      if (o.l2_reg > 0.0) {
        g1.add_(x1, 0.5 * o.l2_reg / n);
        g2.add_(x2, 0.5 * o.l2_reg / m);
      }
      r.grad1 = g1;
      r.grad2 = g2;
    }
    return std::optional<NpairsResult>(std::move(r));
  };

  if (!sym) {
    // row-wise only: each block's cross entropy is complete within the block
    // (ce_kernels.h's row kernel), its gradient dloss/dS formed in S's memory
    at::Tensor Sbuf = at::empty({rows, m}, x1.options());
    double loss = 0, gs = 0;
    for (int64_t r0 = 0; r0 < n; r0 += rows) {
      const int64_t b = std::min(rows, n - r0);
      at::Tensor S = Sbuf.narrow(0, 0, b);
      const at::Tensor x1b = x1n.narrow(0, r0, b);
      at::mm_out(S, x1b, x2nt);
      ce::Problem block;
      block.n = b;
      block.m = m;
      block.temperature = static_cast<double>(temperature);
      block.index = idx ? idx + r0 : nullptr;
      block.probs = P ? P + r0 * m : nullptr;
      block.label_smoothing = ls;
      block.w_rows = w_r;
      block.grad = grad;
      block.exclude_from = o.exclude_self ? o.self_offset + r0 : -1;
      block.row_labels = row_labels ? row_labels + r0 : nullptr;
      block.col_labels = col_labels;
      const ce::Result sums = ce::run(S.data_ptr<T>(), grad ? S.data_ptr<T>() : nullptr, block);
      loss += sums.loss_rows;
      gs += sums.gs;
      if (grad) {
        // dx1n = dS @ x2n (this block's rows), dx2n += dS.T @ x1n (this block's share)
        at::Tensor g1b = g1.narrow(0, r0, b);
        at::mm_out(g1b, S, x2n);
        g2.addmm_(S.t(), x1b);
      }
    }
    return finish(r_rows * loss, gs);
  }

  // symmetric, index targets, unsmoothed: one shift (fused.cpp's fallback to
  // this function has already seen it underflow, and skips it)
  if (try_one_shift && idx && ls == 0 && m == n) {
    if (auto sums = one_shift<T>(x1n.data_ptr<T>(), x2n.data_ptr<T>(), idx, n, m, d, rows, temperature, w_r, w_c, grad, g1,
                                 g2, x1.options())) {
      return finish(sums->first, sums->second);
    }
  }

  // symmetric: the column-wise cross entropy gathers its log-sum-exp across
  // the blocks, with an online maximum per column
  // block matrices: similarities, logits (pass 2: column exponentials), row exponentials / gradient
  at::Tensor Sbuf = at::empty({rows, m}, x1.options());
  at::Tensor Lbuf = at::empty({rows, m}, x1.options());
  at::Tensor Ebuf = at::empty({rows, m}, x1.options());
  // per row: max logit, sum of exp(L - max), sum of q, loss, sum(dloss/dL * S)
  std::vector<T> rmax(static_cast<size_t>(n));
  std::vector<double> rsum(static_cast<size_t>(n)), rqsum(static_cast<size_t>(n)), row_loss(static_cast<size_t>(n)),
      row_gs(static_cast<size_t>(n), 0.0);
  // per column: running max logit, and relative to it the sums of
  // exp(L - max) and exp(L - max) * L; sum of q, sum of q * L (probabilities)
  // or of L, and the target logit (indices)
  std::vector<T> cmax(static_cast<size_t>(m), neg_inf);
  std::vector<double> csum, cel, cqsum, cqdot, clsum, ctgt;
  for (auto* v : {&csum, &cel, &cqsum, &cqdot, &clsum, &ctgt}) v->assign(static_cast<size_t>(m), 0.0);

  // ---- pass 1: logits, the row-wise cross entropy, the column-wise statistics
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    const int64_t b = std::min(rows, n - r0);
    at::Tensor S = Sbuf.narrow(0, 0, b), L = Lbuf.narrow(0, 0, b), E = Ebuf.narrow(0, 0, b);
    const at::Tensor x1b = x1n.narrow(0, r0, b);
    at::mm_out(S, x1b, x2nt);
    const T* s = S.data_ptr<T>();
    T* l = L.data_ptr<T>();
    T* e = E.data_ptr<T>();
    // logits, row maxima, and E = L - row max (exponentiated by LibTorch's vectorised exp)
    at::parallel_for(0, b, grain(m), [&](int64_t ib, int64_t ie) {
      for (int64_t i = ib; i < ie; ++i) {
        const T* __restrict si = s + i * m;
        T* __restrict li = l + i * m;
        T* __restrict ei = e + i * m;
        T mx = neg_inf;
#pragma omp simd reduction(max : mx)
        for (int64_t j = 0; j < m; ++j) {
          const T v = static_cast<T>(si[j] / temperature);
          li[j] = v;
          mx = mx < v ? v : mx;
        }
        rmax[r0 + i] = mx;
#pragma omp simd
        for (int64_t j = 0; j < m; ++j) ei[j] = li[j] - mx;
      }
    });
    E.exp_();
    // row sums, the row's loss and its share of sum(dloss/dL * S)
    at::parallel_for(0, b, grain(m), [&](int64_t ib, int64_t ie) {
      for (int64_t i = ib; i < ie; ++i) {
        const int64_t gi = r0 + i;
        const T* __restrict li = l + i * m;
        T* __restrict ei = e + i * m;
        const T* __restrict p = P ? P + gi * m : nullptr;
        double sum = 0, el = 0;
#pragma omp simd reduction(+ : sum, el)
        for (int64_t j = 0; j < m; ++j) {
          const double x = ei[j];
          sum += x;
          el += x * li[j];
        }
        double qsum = 0, qdot = 0;
        if (p) {
#pragma omp simd reduction(+ : qsum, qdot)
          for (int64_t j = 0; j < m; ++j) {
            const double q = keep * p[j] + sm_r;
            qsum += q;
            qdot += q * li[j];
          }
        } else {
          double lsum = 0;
          if (ls > 0) {
#pragma omp simd reduction(+ : lsum)
            for (int64_t j = 0; j < m; ++j) lsum += li[j];
          }
          qsum = 1.0;
          qdot = keep * static_cast<double>(li[idx[gi]]) + sm_r * lsum;
        }
        rsum[gi] = sum;
        rqsum[gi] = qsum;
        row_loss[gi] = qsum * (static_cast<double>(rmax[gi]) + std::log(sum)) - qdot;
        // sum_j dloss/dL_ij * S_ij = temperature * w * (qsum * E_softmax[L] - q . L)
        row_gs[gi] = static_cast<double>(temperature) * w_r * (qsum * el / sum - qdot);
      }
    });
    // column maxima so far (the sums rescaled to a new maximum), E = L - column max
    at::parallel_for(0, m, grain(b), [&](int64_t jb, int64_t je) {
      T* __restrict cm = cmax.data();
      double* __restrict cs = csum.data();
      double* __restrict ce = cel.data();
      std::vector<T> bm(cm + jb, cm + je);
      T* __restrict bmp = bm.data() - jb;
      for (int64_t i = 0; i < b; ++i) {
        const T* __restrict li = l + i * m;
#pragma omp simd
        for (int64_t j = jb; j < je; ++j) bmp[j] = bmp[j] < li[j] ? li[j] : bmp[j];
      }
      for (int64_t j = jb; j < je; ++j) {
        if (cm[j] < bmp[j]) {
          const double f = std::exp(static_cast<double>(cm[j]) - static_cast<double>(bmp[j]));
          cs[j] *= f;
          ce[j] *= f;
          cm[j] = bmp[j];
        }
      }
      for (int64_t i = 0; i < b; ++i) {
        const T* __restrict li = l + i * m;
        T* __restrict ei = e + i * m;
#pragma omp simd
        for (int64_t j = jb; j < je; ++j) ei[j] = li[j] - cm[j];
      }
    });
    E.exp_();
    // column sums and the column-wise targets' terms
    at::parallel_for(0, m, grain(b), [&](int64_t jb, int64_t je) {
      double* __restrict cs = csum.data();
      double* __restrict ce = cel.data();
      for (int64_t i = 0; i < b; ++i) {
        const T* __restrict li = l + i * m;
        const T* __restrict ei = e + i * m;
#pragma omp simd
        for (int64_t j = jb; j < je; ++j) {
          const double x = ei[j];
          cs[j] += x;
          ce[j] += x * li[j];
        }
        if (P) {
          const T* __restrict p = P + (r0 + i) * m;
          double* __restrict cq = cqsum.data();
          double* __restrict cd = cqdot.data();
#pragma omp simd
          for (int64_t j = jb; j < je; ++j) {
            const double q = keep * p[j] + sm_c;
            cq[j] += q;
            cd[j] += q * li[j];
          }
        } else {
          if (ls > 0) {
            double* __restrict cl = clsum.data();
#pragma omp simd
            for (int64_t j = jb; j < je; ++j) cl[j] += li[j];
          }
          const int64_t t = idx[r0 + i];
          if (t >= jb && t < je) ctgt[t] = static_cast<double>(li[t]);
        }
      }
    });
  }

  double loss = 0, gs = 0;
  for (int64_t i = 0; i < n; ++i) {
    loss += row_loss[i];
    gs += row_gs[i];
  }
  loss *= r_rows;
  // the column-wise losses; each column's q-sum over its exp-sum
  std::vector<double> cscale(static_cast<size_t>(m));
  double col = 0;
  for (int64_t j = 0; j < m; ++j) {
    const double qsum = P ? cqsum[j] : 1.0;
    const double qdot = P ? cqdot[j] : keep * ctgt[j] + sm_c * clsum[j];
    col += qsum * (static_cast<double>(cmax[j]) + std::log(csum[j])) - qdot;
    gs += static_cast<double>(temperature) * w_c * (qsum * cel[j] / csum[j] - qdot);
    cscale[j] = qsum / csum[j];
  }
  loss = 0.5 * (loss + r_cols * col);

  // ---- pass 2 (symmetric, with gradients): the logits again, dloss/dS of
  // both cross entropies, and the two products. M = N here, so the row-wise
  // and column-wise targets of an entry are the same q.
  if (grad) {
    for (int64_t r0 = 0; r0 < n; r0 += rows) {
      const int64_t b = std::min(rows, n - r0);
      at::Tensor S = Sbuf.narrow(0, 0, b), C = Lbuf.narrow(0, 0, b), E = Ebuf.narrow(0, 0, b);
      const at::Tensor x1b = x1n.narrow(0, r0, b);
      at::mm_out(S, x1b, x2nt);
      const T* s = S.data_ptr<T>();
      T* c = C.data_ptr<T>();
      T* e = E.data_ptr<T>();
      at::parallel_for(0, b, grain(m), [&](int64_t ib, int64_t ie) {
        const T* __restrict cm = cmax.data();
        for (int64_t i = ib; i < ie; ++i) {
          const T* __restrict si = s + i * m;
          T* __restrict ci = c + i * m;
          T* __restrict ei = e + i * m;
          const T mx = rmax[r0 + i];
#pragma omp simd
          for (int64_t j = 0; j < m; ++j) {
            const T v = static_cast<T>(si[j] / temperature);
            ei[j] = v - mx;
            ci[j] = v - cm[j];
          }
        }
      });
      E.exp_();
      C.exp_();
      at::parallel_for(0, b, grain(m), [&](int64_t ib, int64_t ie) {
        const double* __restrict csc = cscale.data();
        for (int64_t i = ib; i < ie; ++i) {
          const int64_t gi = r0 + i;
          const T* __restrict ci = c + i * m;
          T* __restrict ei = e + i * m;
          const T* __restrict p = P ? P + gi * m : nullptr;
          const double scale = rqsum[gi] / rsum[gi];
#pragma omp simd
          for (int64_t j = 0; j < m; ++j) {
            const double q = p ? keep * p[j] + sm_r : sm_r;
            // dloss/dL_ij: the row-wise part and the column-wise part; then dloss/dS_ij
            ei[j] = static_cast<T>((w_r * (scale * ei[j] - q) + w_c * (csc[j] * ci[j] - q)) * inv_t);
          }
          if (!p) ei[idx[gi]] -= static_cast<T>((w_r + w_c) * keep * inv_t);
        }
      });
      at::Tensor g1b = g1.narrow(0, r0, b);
      at::mm_out(g1b, E, x2n);
      g2.addmm_(E.t(), x1b);
    }
  }
  // the block matrices are no longer needed
  Sbuf.reset();
  Lbuf.reset();
  Ebuf.reset();
  return finish(loss, gs);
}

}  // namespace

ChunkingSettings chunking() {
  ChunkingSettings s;
  s.rows = chunk_rows.load();
  s.budget_bytes = chunk_budget.load();
  s.calls = chunk_calls.load();
  return s;
}

void set_chunking(int64_t rows, int64_t budget_bytes) {
  if (rows < 0) throw_range_error("rows must be >= 0 (0: sized to ~32 MiB blocks), got " + std::to_string(rows));
  chunk_rows.store(rows);
  chunk_budget.store(budget_bytes);
}

bool chunking_wanted(int64_t n, int64_t m, int64_t element_size) {
  const int64_t budget = chunk_budget.load();
  if (budget < 0) return false;
  return static_cast<double>(n) * static_cast<double>(m) * static_cast<double>(element_size) >
         static_cast<double>(budget);
}

int64_t chunked_rows(int64_t m, int64_t element_size) {
  const int64_t rows = chunk_rows.load();
  return rows > 0 ? rows : std::max<int64_t>(1, kBlockBytes / (std::max<int64_t>(m, 1) * element_size));
}

void count_chunked_call() { chunk_calls.fetch_add(1); }

std::optional<NpairsResult> npairs_chunked(const at::Tensor& x1, const at::Tensor& x2, const at::Tensor& target,
                                           const NpairsOptions& o) {
  std::optional<NpairsResult> r = x1.scalar_type() == at::kDouble ? chunked_impl<double>(x1, x2, target, o, true)
                                                                   : chunked_impl<float>(x1, x2, target, o, true);
  if (r) chunk_calls.fetch_add(1);
  return r;
}

std::optional<NpairsResult> npairs_blocks(const at::Tensor& x1, const at::Tensor& x2, const at::Tensor& target,
                                          const NpairsOptions& o) {
  return x1.scalar_type() == at::kDouble ? chunked_impl<double>(x1, x2, target, o, false)
                                         : chunked_impl<float>(x1, x2, target, o, false);
}

}  // namespace pairloss
