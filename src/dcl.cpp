#include "dcl.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "blas.h"
#include "ce_kernels.h"
#include "errors.h"
#include "exact_norms.h"
#include "fused.h"
#include "ops.h"
#include "parallel.h"

namespace pairloss {

namespace {

constexpr double kNormalizeEps = 1e-12;  // F.normalize's default, as lightly calls it

// lightly's DCLLoss._loss and forward, as written there (the reference path,
// LibTorch autograd; one process).
at::Tensor lightly_loss(const at::Tensor& out0, const at::Tensor& out1, const at::Tensor& weights, double temperature) {
  const int64_t n = out0.size(0);
  at::Tensor diag = at::eye(n, out0.options().dtype(at::kBool));
  at::Tensor sim_00 = at::einsum("nc,mc->nm", {out0, out0}) / temperature;
  at::Tensor sim_01 = at::einsum("nc,mc->nm", {out0, out1}) / temperature;
  at::Tensor positive = -sim_01.masked_select(diag);
  if (weights.defined()) positive = positive * weights;
  sim_00 = sim_00.masked_select(~diag).view({n, -1});
  sim_01 = sim_01.masked_select(~diag).view({n, -1});
  at::Tensor negative = at::logsumexp(at::cat({sim_00, sim_01}, 1), 1);
  return (positive + negative).mean();
}

// lightly's negative_mises_fisher_weights: 2 - N softmax(<out0_i, out1_i> / sigma), detached.
at::Tensor mises_fisher_weights(const at::Tensor& out0, const at::Tensor& out1, double sigma) {
  at::NoGradGuard no_grad;
  at::Tensor similarity = at::einsum("nm,nm->n", {out0.detach(), out1.detach()}) / sigma;
  return 2.0 - static_cast<double>(out0.size(0)) * at::softmax(similarity, 0);
}

DclResult reference(const at::Tensor& z1_in, const at::Tensor& z2_in, const DclOptions& o) {
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor z1 = z1_in.detach(), z2 = z2_in.detach();
  if (o.grad) {
    z1.requires_grad_(true);
    z2.requires_grad_(true);
  }
  at::Tensor out0 = normalize(z1, 2.0, 1, kNormalizeEps), out1 = normalize(z2, 2.0, 1, kNormalizeEps);
  at::Tensor w0, w1;
  if (o.weighted) {
    w0 = mises_fisher_weights(out0, out1, o.sigma);
    w1 = mises_fisher_weights(out1, out0, o.sigma);
  }
  at::Tensor loss = 0.5 * (lightly_loss(out0, out1, w0, o.temperature) + lightly_loss(out1, out0, w1, o.temperature));
  DclResult r;
  r.loss = loss.item<double>();
  if (o.grad) {
    auto g = torch::autograd::grad({loss}, {z1, z2});
    r.grad1 = g[0];
    r.grad2 = g[1];
  }
  return r;
}

// ---- the hand-derived form ----
// X = [out0; out1] (this rank's 2N rows), C the columns: every rank's X in
// rank order (one process: C = X), this rank's at `base`. Row k < N is
// out0_i (i = k), row N + i is out1_i; both leave out the columns base + i
// and base + N + i (the row itself and its positive) from the logsumexp, and
// take the positive <out0_i, out1_i> / T with weight w_i. S = X C^T.
//
// rows(): sum over the 2N rows of lse_k - w_i pos_k, and (grad) S overwritten
// with G = d(that sum) / dS: softmax_kj / T off the two left-out columns,
// -w_i / T on the positive's, 0 on the row's own.
template <typename T>
double rows(T* s, int64_t n, int64_t cols, int64_t base, const double* w, double temperature, bool grad) {
  const double inv_t = 1.0 / temperature;
  std::vector<double> loss(static_cast<size_t>(2 * n));
  at::parallel_for(0, 2 * n, std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const int64_t i = k % n;
      const int64_t c1 = base + i, c2 = base + n + i;  // c1 < c2
      const int64_t self = k < n ? c1 : c2, pos = k < n ? c2 : c1;
      T* row = s + k * cols;
      const double wi = w != nullptr ? w[i] : 1.0;
      const double positive = static_cast<double>(row[pos] / static_cast<T>(temperature));
      // the largest logit but the two left out (NaN skipped, as the
      // comparison skips it), in eight lanes
      const T lowest = -std::numeric_limits<T>::infinity();
      row[c1] = row[c2] = lowest;
      T lane[8] = {lowest, lowest, lowest, lowest, lowest, lowest, lowest, lowest};
      int64_t j = 0;
      for (; j + 8 <= cols; j += 8) {
        for (int l = 0; l < 8; ++l) lane[l] = row[j + l] > lane[l] ? row[j + l] : lane[l];
      }
      for (; j < cols; ++j) lane[0] = row[j] > lane[0] ? row[j] : lane[0];
      T mx = lane[0];
      for (int l = 1; l < 8; ++l) mx = lane[l] > mx ? lane[l] : mx;
      // logits divided by the temperature in T, as lightly's einsum(...) / T
      const T temp = static_cast<T>(temperature);
      const T shift = mx / temp;
      row[c1] = row[c2] = mx;  // left out below; mx keeps their exp finite
      for (j = 0; j < cols; ++j) row[j] = row[j] / temp - shift;
      ce::exp_values(row, cols);
      double part[4] = {0, 0, 0, 0};
      for (j = 0; j + 4 <= cols; j += 4) {
        for (int l = 0; l < 4; ++l) part[l] += static_cast<double>(row[j + l]);
      }
      for (; j < cols; ++j) part[0] += static_cast<double>(row[j]);
      double sum = (part[0] + part[1]) + (part[2] + part[3]);
      sum -= static_cast<double>(row[c1]) + static_cast<double>(row[c2]);
      loss[static_cast<size_t>(k)] = static_cast<double>(shift) + std::log(sum) - wi * positive;
      if (!grad) continue;
      const T f = static_cast<T>(inv_t / sum);
      for (int64_t j = 0; j < cols; ++j) row[j] *= f;
      row[self] = 0;
      row[pos] = static_cast<T>(-wi * inv_t);
    }
  });
  double total = 0;
  for (double v : loss) total += v;
  return total;
}

// a [r, d] @ b^T ([c, d]) on the CPU through BLAS (a @ a^T: syrk), elsewhere at::mm.
at::Tensor mm_nt(const at::Tensor& a, const at::Tensor& b) {
  if (!a.device().is_cpu()) return at::mm(a, b.t());
  if (a.is_same(b)) {
    at::Tensor c = at::empty({a.size(0), a.size(0)}, a.options());
    AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "dcl_gram", [&] {
      blas::gram(a.data_ptr<scalar_t>(), c.data_ptr<scalar_t>(), a.size(0), a.size(1));
    });
    return c;
  }
  at::Tensor c = at::empty({a.size(0), b.size(0)}, a.options());
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "dcl_mm_nt", [&] {
    blas::mm(a.data_ptr<scalar_t>(), false, b.data_ptr<scalar_t>(), true, c.data_ptr<scalar_t>(), a.size(0),
             b.size(0), a.size(1));
  });
  return c;
}
// a [r, c] @ b ([c, d]), with ta: a stored [c, r].
at::Tensor mm_nn(const at::Tensor& a, bool ta, const at::Tensor& b) {
  if (!a.device().is_cpu()) return at::mm(ta ? a.t() : a, b);
  const int64_t r = ta ? a.size(1) : a.size(0), inner = ta ? a.size(0) : a.size(1);
  at::Tensor c = at::empty({r, b.size(1)}, a.options());
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "dcl_mm_nn", [&] {
    blas::mm(a.data_ptr<scalar_t>(), ta, b.data_ptr<scalar_t>(), false, c.data_ptr<scalar_t>(), r, b.size(1), inner);
  });
  return c;
}

// rows() on any device: the same as ATen ops.
double rows_aten(at::Tensor& s, int64_t n, int64_t base, const at::Tensor& w, double temperature, bool grad) {
  at::Tensor i = at::arange(n, s.options().dtype(at::kLong));
  at::Tensor k0 = i, k1 = i + n, c1 = i + base, c2 = i + base + n;
  at::Tensor ks = at::cat({k0, k1}), own = at::cat({c1, c2}), pos = at::cat({c2, c1});
  at::Tensor weights = w.defined() ? at::cat({w, w}).to(s.scalar_type()) : at::ones({2 * n}, s.options());
  at::Tensor positive = s.index({ks, pos}) / temperature;
  at::Tensor logits = s / temperature;
  const double inf = std::numeric_limits<double>::infinity();
  logits.index_put_({ks, own}, at::full({}, -inf, s.options()));
  logits.index_put_({ks, pos}, at::full({}, -inf, s.options()));
  at::Tensor lse = at::logsumexp(logits, 1);
  const double loss = (lse - weights * positive).sum().item<double>();
  if (grad) {
    s = (logits - lse.unsqueeze(1)).exp_().div_(temperature);
    s.index_put_({ks, pos}, -weights / temperature);
  }
  return loss;
}

struct Local {
  double loss_sum = 0;  // sum over this rank's 2N rows
  at::Tensor g;         // d(loss_sum) / dS, [2N, cols]
};
Local local_rows(const at::Tensor& x, const at::Tensor& c, int64_t n, int64_t base, const at::Tensor& w,
                 const DclOptions& o) {
  Local l;
  l.g = mm_nt(x, c);
  if (x.device().is_cpu()) {
    at::Tensor wd = w.defined() ? w.to(at::kDouble).contiguous() : at::Tensor();
    const double* wp = wd.defined() ? wd.data_ptr<double>() : nullptr;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dcl_rows", [&] {
      l.loss_sum = rows<scalar_t>(l.g.data_ptr<scalar_t>(), n, c.size(0), base, wp, o.temperature, o.grad);
    });
  } else {
    l.loss_sum = rows_aten(l.g, n, base, w, o.temperature, o.grad);
  }
  return l;
}

struct Normalized {
  at::Tensor norm1, norm2, x;  // x = [out0; out1]
  at::Tensor w;                // DCLW's weights [N] (undefined without)
};
Normalized normalized(const at::Tensor& z1, const at::Tensor& z2, const DclOptions& o) {
  Normalized v;
  v.norm1 = z1.norm(2, 1, true);
  v.norm2 = z2.norm(2, 1, true);
  v.x = at::cat({z1 / v.norm1.clamp_min(kNormalizeEps), z2 / v.norm2.clamp_min(kNormalizeEps)});
  if (o.weighted) {
    const int64_t n = z1.size(0);
    v.w = mises_fisher_weights(v.x.narrow(0, 0, n), v.x.narrow(0, n, n), o.sigma);
  }
  return v;
}

// normalize's backward on both views: dX [2N, D] -> (grad1, grad2).
void normalize_backward(const at::Tensor& gx, const Normalized& v, int64_t n, DclResult& r) {
  auto back = [](const at::Tensor& g, const at::Tensor& xh, const at::Tensor& norm) {
    at::Tensor along = (g * xh).sum(1, true);
    return at::where(norm >= kNormalizeEps, (g - xh * along) / norm, g / kNormalizeEps);
  };
  r.grad1 = back(gx.narrow(0, 0, n), v.x.narrow(0, 0, n), v.norm1);
  r.grad2 = back(gx.narrow(0, n, n), v.x.narrow(0, n, n), v.norm2);
}

// G + G^T in place, the same sums as l.g + l.g.t(): in strips of 8 rows j,
// each pair {j, i >= j} once (in the strip of j), the column walk reading 8
// adjacent values of row i at a time (rows 2N apart: a power-of-two stride
// that a tile of more rows would thrash the L1 cache with).
template <typename T>
void symmetrize(T* g, int64_t m) {
  constexpr int64_t B = 8;
  at::parallel_for(0, (m + B - 1) / B, grain(B * m), [&](int64_t begin, int64_t end) {
    for (int64_t jb = begin * B; jb < std::min(end * B, m); jb += B) {
      const int64_t je = std::min(jb + B, m);
      for (int64_t j = jb; j < je; ++j) {
        for (int64_t i = j; i < je; ++i) {
          const T a = g[j * m + i] + g[i * m + j];
          g[j * m + i] = a;
          g[i * m + j] = a;
        }
      }
      for (int64_t i = je; i < m; ++i) {
        T* ri = g + i * m;
        for (int64_t j = jb; j < je; ++j) {
          const T a = g[j * m + i] + ri[j];
          g[j * m + i] = a;
          ri[j] = a;
        }
      }
    }
  });
}

// direct() on raw CPU memory, one process: the norms and X, one syrk, rows(),
// G + G^T, one product, normalize's backward, as loops over one workspace
// instead of ~20 LibTorch ops. False (the caller takes direct()) where a
// row's norm is below eps or not finite.
template <typename T>
bool direct_cpu(const at::Tensor& z1, const at::Tensor& z2, const DclOptions& o, DclResult& r) {
  const int64_t n = z1.size(0), d = z1.size(1), m = 2 * n;
  std::unique_ptr<T[]> work(new T[static_cast<size_t>(2 * m * d + m * m + m)]);
  T* x = work.get();
  T* p = x + m * d;
  T* s = p + m * d;
  T* norm = s + m * m;
  exact_row_norms(z1.data_ptr<T>(), norm, n, d);
  exact_row_norms(z2.data_ptr<T>(), norm + n, n, d);
  for (int64_t i = 0; i < m; ++i) {
    if (!(norm[i] >= static_cast<T>(kNormalizeEps)) || !std::isfinite(norm[i])) return false;
  }
  ce::divide_rows(z1.data_ptr<T>(), norm, x, n, d, kNormalizeEps);
  ce::divide_rows(z2.data_ptr<T>(), norm + n, x + n * d, n, d, kNormalizeEps);
  at::Tensor wd;
  if (o.weighted) {
    const auto options = z1.options();
    wd = mises_fisher_weights(at::from_blob(x, {n, d}, options), at::from_blob(x + n * d, {n, d}, options), o.sigma)
             .to(at::kDouble)
             .contiguous();
  }
  blas::gram(x, s, m, d);
  r.loss = rows<T>(s, n, m, 0, wd.defined() ? wd.data_ptr<double>() : nullptr, o.temperature, o.grad) /
           static_cast<double>(m);
  if (!o.grad) return true;
  // dX = (G + G^T) X / 2N, then normalize's backward
  symmetrize(s, m);
  blas::mm(s, false, x, false, p, m, d, m);
  const T scale = static_cast<T>(1.0 / static_cast<double>(m));
  at::Tensor g1 = at::empty({n, d}, z1.options()), g2 = at::empty({n, d}, z1.options());
  T* out1 = g1.data_ptr<T>();
  T* out2 = g2.data_ptr<T>();
  for (int64_t i = 0; i < m * d; ++i) p[i] *= scale;
  ce::normalize_backward(p, x, norm, m, d, kNormalizeEps);
  std::copy(p, p + n * d, out1);
  std::copy(p + n * d, p + m * d, out2);
  r.grad1 = g1;
  r.grad2 = g2;
  return true;
}

DclResult direct(const at::Tensor& z1, const at::Tensor& z2, const DclOptions& o) {
  at::NoGradGuard no_grad;
  const int64_t n = z1.size(0);
  Normalized v = normalized(z1, z2, o);
  Local l = local_rows(v.x, v.x, n, 0, v.w, o);
  DclResult r;
  r.loss = l.loss_sum / static_cast<double>(2 * n);
  if (o.grad) {
    // X is rows and columns: dX = (G + G^T) X
    at::Tensor h = l.g + l.g.t();
    normalize_backward(mm_nn(h, false, v.x).mul_(1.0 / static_cast<double>(2 * n)), v, n, r);
  }
  return r;
}

// Under a group: every rank's X gathered (lightly gathers the normalised
// views with gradient), this rank's rows against all columns; this rank's
// share of the global loss, loss_sum / (2 N W), and its gradient with
// respect to every gathered row summed over the ranks (GatherLayer's
// all-reduce), this rank's own rows' direct gradient added first: this
// rank's slice is then the exact gradient of the global loss.
DclResult grouped(const at::Tensor& z1, const at::Tensor& z2, const DclOptions& o, ProcessGroup& g) {
  at::NoGradGuard no_grad;
  const int64_t n = z1.size(0), d = z1.size(1), w = g.world_size(), rank = g.rank();
  Normalized v = normalized(z1, z2, o);
  at::Tensor c = cat_over_ranks(&g, v.x, "dclLoss: all-gather of [z1; z2]");
  const int64_t base = rank * 2 * n;
  Local l = local_rows(v.x, c, n, base, v.w, o);
  const double k = 1.0 / static_cast<double>(2 * n * w);
  DclResult r;
  if (!o.grad) {
    r.loss = sum_over_ranks(&g, at::full({1}, l.loss_sum * k, at::TensorOptions().dtype(at::kDouble)),
                            "dclLoss: all-reduce of the loss")
                 .item<double>();
    return r;
  }
  at::Tensor dc = mm_nn(l.g, true, v.x);  // G^T X: [2NW, D]
  dc.narrow(0, base, 2 * n).add_(mm_nn(l.g, false, c));
  dc.mul_(k);
  at::Tensor packed = at::cat({dc.reshape({-1}), at::full({1}, l.loss_sum * k, dc.options())});
  at::Tensor total = sum_over_ranks(&g, packed, "dclLoss: all-reduce of gradients");
  r.loss = total[2 * n * w * d].item<double>();
  normalize_backward(total.narrow(0, 0, 2 * n * w * d).view({2 * n * w, d}).narrow(0, base, 2 * n), v, n, r);
  return r;
}

}  // namespace

DclResult dcl_loss(const at::Tensor& z1, const at::Tensor& z2, const DclOptions& o) {
  check_loss_inputs(z1, z2, true, o.check_finite, "z1", "z2");
  PAIRLOSS_CHECK(o.temperature > 0.0 && (!o.weighted || o.sigma > 0.0), "temperature and sigma must be > 0");
  const int64_t n = z1.size(0);
  DclResult r;
  if (!o.group) {
    if (n < 2) throw_range_error("z1: DCL's negatives need N >= 2 rows, got N = " + std::to_string(n));
    if (!fused_enabled()) {
      r = reference(z1, z2, o);
    } else {
      const at::Tensor a = z1.contiguous(), b = z2.contiguous();
      bool done = false;
      if (a.device().is_cpu()) {
        AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "dcl_cpu", [&] { done = direct_cpu<scalar_t>(a, b, o, r); });
      }
      if (!done) r = direct(a, b, o);
    }
  } else {
    if (n * o.group->world_size() < 2) {
      throw_range_error("z1: DCL's negatives need W * N >= 2 rows over the group, got 1");
    }
    o.group->run([&] { r = grouped(z1.contiguous(), z2.contiguous(), o, *o.group); });
  }
  place_gradient(r.grad1, o.out_grad1);
  place_gradient(r.grad2, o.out_grad2);
  return r;
}

}  // namespace pairloss
