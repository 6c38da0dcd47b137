#include "fused.h"

#include "blas.h"
#include "ce_kernels.h"
#include "chunked.h"
#include "parallel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace pairloss {

namespace {

// One large N x M matrix kept between calls for the next to reuse. Above
// glibc's mmap threshold (32 MiB at most) every call would get fresh pages
// from the kernel, faulted in and zeroed one by one: 19k page faults, ~15 ms
// of a 190 ms 4096x256 loss (measured). Calls take the slot if it is large
// enough and give their matrix back when done (one at a time: a concurrent
// call allocates its own). Matrices above the chunked path's budget are never
// built whole, so at most that much (256 MiB by default) stays held.
constexpr int64_t kWorkspaceMin = int64_t{8} << 20;
std::mutex workspace_mutex;
at::Tensor workspace_slot;  // 1-D, its capacity in elements
// Tests' view of the slot (workspace_stats()): calls that took it, calls that allocated a large matrix.
std::atomic<int64_t> workspace_reuses{0};
std::atomic<int64_t> workspace_allocations{0};

struct Workspace {
  at::Tensor base;  // 1-D storage, given back to the slot when this ends
  at::Tensor matrix;
  Workspace(int64_t n, int64_t m, const at::TensorOptions& options) {
    const int64_t bytes = n * m * static_cast<int64_t>(options.dtype().itemsize());
    if (bytes >= kWorkspaceMin) {
      std::lock_guard<std::mutex> lock(workspace_mutex);
      if (workspace_slot.defined() && workspace_slot.scalar_type() == options.dtype().toScalarType() &&
          workspace_slot.numel() >= n * m) {
        base = std::move(workspace_slot);
        workspace_slot = at::Tensor();
        ++workspace_reuses;
      }
      if (!base.defined()) ++workspace_allocations;
    }
    if (!base.defined()) base = at::empty({n * m}, options);
    matrix = base.narrow(0, 0, n * m).view({n, m});
    if (bytes < kWorkspaceMin) base = at::Tensor();  // small: the allocator reuses it anyway
  }
  ~Workspace() {
    matrix = at::Tensor();
    // recycled only when nothing else holds its memory
    if (!base.defined() || base.storage().use_count() != 1) return;
    std::lock_guard<std::mutex> lock(workspace_mutex);
    if (!workspace_slot.defined() || workspace_slot.numel() < base.numel()) workspace_slot = std::move(base);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
};

std::atomic<bool> use_fused{true};

// ---- N-pairs ----------------------------------------------------------------

// A [rows, cols] result: the caller's memory (NpairsOptions::out_grad1 &
// co.) where it fits, else new.
at::Tensor output(const at::Tensor& given, int64_t rows, int64_t cols, const at::TensorOptions& options) {
  if (given.defined() && given.device().is_cpu() && given.dim() == 2 && given.size(0) == rows &&
      given.size(1) == cols && given.scalar_type() == options.dtype().toScalarType() && given.is_contiguous()) {
    return given;
  }
  return at::empty({rows, cols}, options);
}

// Scratch memory for one call: plain heap memory, no tensor around it.
template <typename T>
std::unique_ptr<T[]> scratch(int64_t elements) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(elements, 1))]);
}

template <typename T>
std::optional<NpairsResult> npairs_impl(const at::Tensor& x1_in, const at::Tensor& x2_in, const at::Tensor& target,
                                        const NpairsOptions& o) {
  const at::Tensor x1 = x1_in.contiguous(), x2 = x2_in.contiguous();
  const int64_t n = x1.size(0), m = x2.size(0), d = x1.size(1);
  const bool cosine = o.similarity == Similarity::Cosine;
  const T temperature = static_cast<T>(o.temperature);
  // D = 1: every normalised row is +-1 and the exact gradient is 0, where
  // PyTorch returns rounding noise of up to ~1e-6 (float32); the reference
  // path gives that noise, as it does for any input.
  if (cosine && d == 1) return std::nullopt;
  const T* p1 = x1.data_ptr<T>();
  const T* p2 = x2.data_ptr<T>();

  // row norms (cosine, or Sohn's L2 penalty) and the normalised rows (cosine)
  const bool norms = cosine || o.l2_reg > 0.0;
  std::unique_ptr<T[]> buffer = scratch<T>((norms ? n + m : 0) + (cosine ? (n + m) * d : 0));
  T* norm1 = buffer.get();
  T* norm2 = norm1 + n;
  const T* y1 = p1;
  const T* y2 = p2;
  if (cosine) {
    T* q1 = norm2 + m;
    T* q2 = q1 + n * d;
    if (!ce::normalize_rows(p1, norm1, q1, n, d, o.eps) || !ce::normalize_rows(p2, norm2, q2, m, d, o.eps)) {
      return std::nullopt;
    }
    y1 = q1;
    y2 = q2;
  } else if (norms) {
    ce::row_norms(p1, norm1, n, d);
    ce::row_norms(p2, norm2, m, d);
  }

  // similarity S = y1 @ y2.T  [N, M]
  // (in the shared workspace unless it is returned)
  std::optional<Workspace> workspace;
  at::Tensor S;
  if (o.return_similarity) {
    S = at::empty({n, m}, x1.options());
  } else {
    workspace.emplace(n, m, x1.options());
    S = workspace->matrix;
  }
  blas::mm(y1, false, y2, true, S.data_ptr<T>(), n, m, d);
  // dloss/dS: computed in S's own memory unless S is returned
  at::Tensor G = o.grad ? (o.return_similarity ? at::empty_like(S) : S) : at::Tensor();

  // cross entropy of S / temperature, and dloss/dlogits into G
  // no target: SupCon's labels (NpairsOptions::labels), compared in the row kernel
  const bool by_labels = !target.defined();
  if (by_labels && (o.symmetric || !o.labels.defined())) return std::nullopt;
  const bool probs = !by_labels && at::isFloatingType(target.scalar_type());
  at::Tensor tc = probs ? target.contiguous() : target;
  const double half = o.symmetric ? 0.5 : 1.0;
  const double r_rows = o.reduction == Reduction::Mean ? 1.0 / n : 1.0;
  const double r_cols = o.reduction == Reduction::Mean ? 1.0 / m : 1.0;
  ce::Problem problem;
  problem.n = n;
  problem.m = m;
  problem.temperature = static_cast<double>(temperature);
  problem.index = probs || by_labels ? nullptr : tc.data_ptr<int64_t>();
  if (by_labels) {
    problem.row_labels = o.labels.data_ptr<int64_t>();
    problem.col_labels = (o.column_labels.defined() ? o.column_labels : o.labels).data_ptr<int64_t>();
  }
  problem.probs = probs ? tc.data_ptr<T>() : nullptr;
  problem.label_smoothing = o.label_smoothing;
  problem.symmetric = o.symmetric;
  problem.w_rows = half * r_rows;
  problem.w_cols = o.symmetric ? half * r_cols : 0.0;
  problem.grad = o.grad;
  problem.exclude_from = o.exclude_self ? o.self_offset : -1;
  const ce::Result ce_sums = ce::run(S.data_ptr<T>(), o.grad ? G.data_ptr<T>() : nullptr, problem);
  if (!ce_sums.ok) {
    // exp(L - 1/temperature) underflows somewhere: the row blocks keep
    // per-row and per-column maxima (S itself is intact if it is returned)
    if (!cosine) return std::nullopt;
    NpairsOptions blocks = o;
    blocks.return_similarity = false;
    std::optional<NpairsResult> r = npairs_blocks(x1, x2, target, blocks);
    if (r && o.return_similarity) r->similarity = S;
    return r;
  }
  double loss = r_rows * ce_sums.loss_rows;
  if (o.symmetric) loss = 0.5 * (loss + r_cols * ce_sums.loss_cols);
  const double gs = ce_sums.gs;

  NpairsResult r;
  if (o.l2_reg > 0.0) {
    double s1 = 0, s2 = 0;
    for (int64_t i = 0; i < n; ++i) s1 += static_cast<double>(norm1[i]) * norm1[i];
    for (int64_t j = 0; j < m; ++j) s2 += static_cast<double>(norm2[j]) * norm2[j];
    loss += 0.25 * o.l2_reg * (s1 / n + s2 / m);
  }
  r.loss = loss;

  if (o.grad) {
    // logits = S / temperature: dtemperature = -sum(dloss/dL * S) / temperature^2
    r.grad_temperature = -gs / (static_cast<double>(temperature) * temperature);
    // back through the product: dy1 = dS @ y2, dy2 = dS.T @ y1
    at::Tensor g1 = output(o.out_grad1, n, d, x1.options()), g2 = output(o.out_grad2, m, d, x1.options());
    const T* g = G.data_ptr<T>();
    blas::mm(g, false, y2, false, g1.data_ptr<T>(), n, d, m);
    blas::mm(g, true, y1, false, g2.data_ptr<T>(), m, d, n);
    if (cosine) {
      ce::normalize_backward(g1.data_ptr<T>(), y1, norm1, n, d, o.eps);
      ce::normalize_backward(g2.data_ptr<T>(), y2, norm2, m, d, o.eps);
    }
    if (o.l2_reg > 0.0) {
      g1.add_(x1, 0.5 * o.l2_reg / n);
      g2.add_(x2, 0.5 * o.l2_reg / m);
    }
    r.grad1 = g1;
    r.grad2 = g2;
  }
  if (o.return_similarity) r.similarity = S;
  return r;
}

// ---- correlation ------------------------------------------------------------

// BatchNorm1d (training, no affine) of x [N, D] over rows (each row
// standardised over its D values: 'samples') or over columns ('features').
// Writes the normalised values of x (px) into po and 1/sqrt(var + eps) into pi.
template <typename T>
void standardise(const T* px, T* po, T* pi, int64_t n, int64_t d, bool per_row, double eps) {
  if (per_row) {
    at::parallel_for(0, n, grain(d), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const T* row = px + i * d;
        double mean = 0, var = 0;
#pragma omp simd reduction(+ : mean)
        for (int64_t k = 0; k < d; ++k) mean += row[k];
        mean /= d;
#pragma omp simd reduction(+ : var)
        for (int64_t k = 0; k < d; ++k) var += (row[k] - mean) * (row[k] - mean);
        const T is = static_cast<T>(1.0 / std::sqrt(var / d + eps));
        const T mu = static_cast<T>(mean);
        pi[i] = is;
#pragma omp simd
        for (int64_t k = 0; k < d; ++k) po[i * d + k] = (row[k] - mu) * is;
      }
    });
  } else {
    std::vector<double> mean(static_cast<size_t>(d), 0.0), var(static_cast<size_t>(d), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < d; ++k) mean[k] += px[i * d + k];
    for (int64_t k = 0; k < d; ++k) mean[k] /= n;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < d; ++k) var[k] += (px[i * d + k] - mean[k]) * (px[i * d + k] - mean[k]);
    std::vector<T> mu(static_cast<size_t>(d));
    for (int64_t k = 0; k < d; ++k) {
      pi[k] = static_cast<T>(1.0 / std::sqrt(var[k] / n + eps));
      mu[k] = static_cast<T>(mean[k]);
    }
    at::parallel_for(0, n, grain(d), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        for (int64_t k = 0; k < d; ++k) po[i * d + k] = (px[i * d + k] - mu[k]) * pi[k];
    });
  }
}

// Backward of standardise: g (dloss/dxn) -> dloss/dx in place:
// invstd * (g - mean(g) - xn * mean(g * xn)) over each row or column.
template <typename T>
void standardise_backward(T* g, const T* xn, const T* invstd, int64_t n, int64_t d, bool per_row) {
  if (per_row) {
    at::parallel_for(0, n, grain(d), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        T* gi = g + i * d;
        const T* yi = xn + i * d;
        double sg = 0, sgy = 0;
#pragma omp simd reduction(+ : sg, sgy)
        for (int64_t k = 0; k < d; ++k) {
          sg += gi[k];
          sgy += static_cast<double>(gi[k]) * yi[k];
        }
        const T mg = static_cast<T>(sg / d), mgy = static_cast<T>(sgy / d);
#pragma omp simd
        for (int64_t k = 0; k < d; ++k) gi[k] = (gi[k] - mg - yi[k] * mgy) * invstd[i];
      }
    });
  } else {
    std::vector<double> sg(static_cast<size_t>(d), 0.0), sgy(static_cast<size_t>(d), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < d; ++k) {
        sg[k] += g[i * d + k];
        sgy[k] += static_cast<double>(g[i * d + k]) * xn[i * d + k];
      }
    std::vector<T> mg(static_cast<size_t>(d)), mgy(static_cast<size_t>(d));
    for (int64_t k = 0; k < d; ++k) {
      mg[k] = static_cast<T>(sg[k] / n);
      mgy[k] = static_cast<T>(sgy[k] / n);
    }
    at::parallel_for(0, n, grain(d), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        for (int64_t k = 0; k < d; ++k) g[i * d + k] = (g[i * d + k] - mg[k] - xn[i * d + k] * mgy[k]) * invstd[k];
    });
  }
}

template <typename T>
CorrelationResult correlation_impl(const at::Tensor& z1_in, const at::Tensor& z2_in, const CorrelationOptions& o) {
  const at::Tensor z1 = z1_in.contiguous(), z2 = z2_in.contiguous();
  const int64_t n = z1.size(0), d = z1.size(1);
  const bool samples = o.mode == CorrelationMode::Samples;
  const int64_t k = samples ? n : d;

  // batch-normalised views, their inverse deviations, and the K x K matrix
  std::unique_ptr<T[]> buffer = scratch<T>(2 * n * d + 2 * k + k * k);
  T* z1n = buffer.get();
  T* z2n = z1n + n * d;
  T* inv1 = z2n + n * d;
  T* inv2 = inv1 + k;
  T* c = inv2 + k;
  standardise<T>(z1.data_ptr<T>(), z1n, inv1, n, d, samples, o.eps);
  standardise<T>(z2.data_ptr<T>(), z2n, inv2, n, d, samples, o.eps);

  // corr = z1n @ z2n.T / N ('samples', [N, N]) or z1n.T @ z2n / N ('features', [D, D])
  if (samples) {
    blas::mm(z1n, false, z2n, true, c, n, n, d);
  } else {
    blas::mm(z1n, true, z2n, false, c, d, d, n);
  }
  const T tn = static_cast<T>(n);

  // loss = scale * sum w_ij (C_ij - I_ij)^2; dC = 2 * scale * w_ij (C_ij - I_ij) / N
  // (rows in parallel; the diagonal term is taken out of each row's sum after)
  const T two_scale = static_cast<T>(2 * o.scale), lam = static_cast<T>(o.lambda);
  // each task's two sums, added in the order of its rows (parallel.h)
  const std::array<double, 2> sums = parallel_sums<2>(k, grain(k), [&](int64_t b, int64_t e) {
    double row_on = 0, row_off = 0;
    for (int64_t i = b; i < e; ++i) {
      T* ci = c + i * k;
      const T vi = ci[i] / tn, vd = vi - T(1);
      double acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < k; ++j) {
        const T v = ci[j] / tn;
        acc += static_cast<double>(v * v);
        ci[j] = two_scale * lam * v / tn;
      }
      row_off += acc - static_cast<double>(vi * vi);
      row_on += static_cast<double>(vd * vd);
      ci[i] = two_scale * T(1) * vd / tn;
    }
    return std::array<double, 2>{row_on, row_off};
  });
  const double on = sums[0], off = sums[1];
  CorrelationResult r;
  r.on_diagonal = on;
  r.off_diagonal = off;
  r.loss = o.scale * (on + o.lambda * off);
  if (!o.grad) return r;

  // back through the product, then the batch normalisation
  at::Tensor g1 = output(o.out_grad1, n, d, z1.options()), g2 = output(o.out_grad2, n, d, z1.options());
  if (samples) {
    blas::mm(c, false, z2n, false, g1.data_ptr<T>(), n, d, n);  // C @ z2n
    blas::mm(c, true, z1n, false, g2.data_ptr<T>(), n, d, n);   // C.T @ z1n
  } else {
    blas::mm(z2n, false, c, true, g1.data_ptr<T>(), n, d, d);   // z2n @ C.T
    blas::mm(z1n, false, c, false, g2.data_ptr<T>(), n, d, d);  // z1n @ C
  }
  standardise_backward<T>(g1.data_ptr<T>(), z1n, inv1, n, d, samples);
  standardise_backward<T>(g2.data_ptr<T>(), z2n, inv2, n, d, samples);
  r.grad1 = g1;
  r.grad2 = g2;
  return r;
}

}  // namespace

WorkspaceStats workspace_stats(bool release) {
  std::lock_guard<std::mutex> lock(workspace_mutex);
  if (release) workspace_slot = at::Tensor();
  WorkspaceStats s;
  s.reuses = workspace_reuses.load();
  s.allocations = workspace_allocations.load();
  s.held_bytes = workspace_slot.defined() ? workspace_slot.nbytes() : 0;
  return s;
}

bool fused_enabled() { return use_fused.load(); }
void set_fused_enabled(bool enabled) { use_fused.store(enabled); }

// SigLIP over blocks of `rows` rows (rows >= n: one block, the whole matrix).
// Each block's similarities are formed, turned into dloss/dz in place and
// multiplied out before the next one, so at most rows x M of the matrix is
// held: g1's rows of the block are written, g2 gathers every block's
// G_b^T y1_b (the first block overwrites, the others add in the BLAS).
template <typename T>
std::optional<SigmoidLossResult> sigmoid_impl(const at::Tensor& x1_in, const at::Tensor& x2_in, const SigmoidOptions& o,
                                              int64_t rows) {
  const at::Tensor x1 = x1_in.contiguous(), x2 = x2_in.contiguous();
  const int64_t n = x1.size(0), m = x2.size(0), d = x1.size(1);
  rows = rows <= 0 ? n : std::min(rows, n);
  std::unique_ptr<T[]> buffer = scratch<T>(n + m + (n + m) * d);
  T* norm1 = buffer.get();
  T* norm2 = norm1 + n;
  T* y1 = norm2 + m;
  T* y2 = y1 + n * d;
  if (!ce::normalize_rows(x1.data_ptr<T>(), norm1, y1, n, d, o.eps) ||
      !ce::normalize_rows(x2.data_ptr<T>(), norm2, y2, m, d, o.eps)) {
    return std::nullopt;
  }
  Workspace workspace(std::max<int64_t>(rows, 1), m, x1.options());
  T* S = workspace.matrix.data_ptr<T>();
  const at::Tensor labels = o.target.defined() ? o.target.contiguous() : at::Tensor();
  at::Tensor g1, g2;
  if (o.grad) {
    g1 = output(o.out_grad1, n, d, x1.options());
    g2 = output(o.out_grad2, m, d, x1.options());
    if (n == 0) g2.zero_();
  }
  ce::SigmoidResult sums;
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    const int64_t b = std::min(rows, n - r0);
    blas::mm(y1 + r0 * d, false, y2, true, S, b, m, d);
    ce::SigmoidProblem p;
    p.n = b;
    p.m = m;
    p.scale = o.scale;
    p.bias = o.bias;
    p.labels = labels.defined() ? labels.data_ptr<T>() + r0 * m : nullptr;
    p.positive_from = r0;  // row i of the block (global r0 + i) is positive at column r0 + i
    p.w = 1.0 / static_cast<double>(n);
    p.grad = o.grad;
    const ce::SigmoidResult s = ce::sigmoid_run(S, S, p);
    sums.loss += s.loss;
    sums.gscale += s.gscale;
    sums.gbias += s.gbias;
    if (!o.grad) continue;
    blas::mm(S, false, y2, false, g1.data_ptr<T>() + r0 * d, b, d, m);
    if (r0 == 0) {
      blas::mm(S, true, y1, false, g2.data_ptr<T>(), m, d, b);
    } else {
      const at::Tensor G = at::from_blob(S, {b, m}, x1.options());
      const at::Tensor Y = at::from_blob(y1 + r0 * d, {b, d}, x1.options());
      g2.addmm_(G.t(), Y);
    }
  }
  SigmoidLossResult r;
  r.loss = sums.loss / static_cast<double>(n);
  if (!o.grad) return r;
  r.grad_scale = sums.gscale;
  r.grad_bias = sums.gbias;
  ce::normalize_backward(g1.data_ptr<T>(), y1, norm1, n, d, o.eps);
  ce::normalize_backward(g2.data_ptr<T>(), y2, norm2, m, d, o.eps);
  r.grad1 = g1;
  r.grad2 = g2;
  return r;
}

std::optional<SigmoidLossResult> sigmoid_fused(const at::Tensor& x1, const at::Tensor& x2, const SigmoidOptions& o,
                                               int64_t rows) {
  return x1.scalar_type() == at::kDouble ? sigmoid_impl<double>(x1, x2, o, rows) : sigmoid_impl<float>(x1, x2, o, rows);
}

std::optional<NpairsResult> npairs_fused(const at::Tensor& x1, const at::Tensor& x2, const at::Tensor& target,
                                         const NpairsOptions& o) {
  return x1.scalar_type() == at::kDouble ? npairs_impl<double>(x1, x2, target, o)
                                         : npairs_impl<float>(x1, x2, target, o);
}

CorrelationResult correlation_fused(const at::Tensor& z1, const at::Tensor& z2, const CorrelationOptions& o) {
  return z1.scalar_type() == at::kDouble ? correlation_impl<double>(z1, z2, o)
                                         : correlation_impl<float>(z1, z2, o);
}

}  // namespace pairloss
