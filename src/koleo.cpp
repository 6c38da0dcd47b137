#include "koleo.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <ATen/Parallel.h>

#include <cmath>
#include <memory>

#include "blas.h"
#include "ce_kernels.h"
#include "errors.h"
#include "exact_norms.h"
#include "fused.h"
#include "ops.h"
#include "parallel.h"

namespace pairloss {

namespace {

// lightly's expression (the reference path, LibTorch autograd).
KoleoResult reference(const at::Tensor& x_in, const KoleoOptions& o) {
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor x0 = x_in.detach();
  if (o.grad) x0.requires_grad_(true);
  at::Tensor x = normalize(x0, 2.0, 1, o.eps);
  at::Tensor cos = at::mm(x, x.t());
  {
    at::NoGradGuard no_grad;
    cos.fill_diagonal_(-2);
  }
  at::Tensor nn = cos.argmax(1);
  at::Tensor dist = at::pairwise_distance(x, x.index_select(0, nn), 2.0, o.eps);
  at::Tensor loss = -(dist + o.eps).log().mean();
  KoleoResult r;
  r.loss = loss.item<double>();
  if (o.grad) r.grad = torch::autograd::grad({loss}, {x0})[0];
  return r;
}

// The hand-derived form, any device. xh = x / max(|x|, eps) (bit for bit as
// F.normalize), the Gram matrix as at::mm computes it (the same BLAS call, so
// the same nearest neighbours), v_i = xh_i - xh_nn(i) + eps, d_i = |v_i|.
// dloss/dv_i = -v_i / (N d_i (d_i + eps)) (0 where d_i = 0), taken from row
// nn(i) and added to row i; then normalize's backward: (g - xh (g . xh)) / |x|
// where |x| >= eps, g / eps where not (the clamp's own gradient).
KoleoResult direct(const at::Tensor& x, const KoleoOptions& o) {
  at::NoGradGuard no_grad;
  const int64_t n = x.size(0), d = x.size(1);
  at::Tensor norm = x.norm(2, 1, true);
  at::Tensor xh = x / norm.clamp_min(o.eps);
  at::Tensor cos;
  if (xh.device().is_cpu()) {
    cos = at::empty({n, n}, xh.options());
    AT_DISPATCH_FLOATING_TYPES(xh.scalar_type(), "koleo_gram", [&] {
      blas::mm(xh.data_ptr<scalar_t>(), false, xh.data_ptr<scalar_t>(), true, cos.data_ptr<scalar_t>(), n, n, d);
    });
  } else {
    cos = at::mm(xh, xh.t());
  }
  cos.fill_diagonal_(-2);
  at::Tensor nn = cos.argmax(1);
  at::Tensor v = (xh - xh.index_select(0, nn)).add_(o.eps);
  at::Tensor dist = v.norm(2, 1, true);
  at::Tensor plus = dist + o.eps;
  KoleoResult r;
  r.loss = -plus.log().sum().item<double>() / static_cast<double>(n);
  if (o.grad) {
    // rounded as autograd rounds lightly's graph (mean, log, then the norm's
    // backward; the neighbours' share scattered in row order, then the rows'
    // own added): two equal rows make terms of 1 / (N eps) that cancel, and
    // only the same roundings leave the same remainder
    at::Tensor k = at::full_like(dist, -1.0).div_(static_cast<double>(n)).div_(plus).div_(dist);
    k.masked_fill_(dist == 0, 0.0);
    at::Tensor gv = v.mul_(k);
    at::Tensor g = at::zeros_like(gv).index_add_(0, nn, gv, -1.0).add_(gv);
    at::Tensor along = (g * xh).sum(1, true);
    r.grad = at::where(norm >= o.eps, (g - xh * along) / norm, g / o.eps);
  }
  return r;
}


// direct() on raw CPU memory: the same operations in the same order and
// dtype (xh, the Gram matrix by the same BLAS call, v, the norms, k and the
// neighbours' shares scattered in row order), as loops over one workspace
// instead of ~25 LibTorch ops (a fixed ~100 us a call at 32 x 128). The loss
// is summed in double, and normalize's backward is ce::normalize_backward's
// (the dot in double, times 1 / |x|): an ulp from direct()'s where g is not
// 0 (two equal rows cancel to exactly 0 in both). False (the caller takes
// direct()) where a row's norm is below eps or not finite.
template <typename T>
bool direct_cpu(const at::Tensor& x_t, const KoleoOptions& o, KoleoResult& r) {
  const int64_t n = x_t.size(0), d = x_t.size(1);
  const T* x = x_t.data_ptr<T>();
  const T eps = static_cast<T>(o.eps);
  std::unique_ptr<T[]> work(new T[static_cast<size_t>(2 * n * d + n * n + 3 * n)]);
  T* xh = work.get();
  T* v = xh + n * d;
  T* cos = v + n * d;
  T* norm = cos + n * n;
  T* dist = norm + n;
  T* k = dist + n;
  std::unique_ptr<int64_t[]> nn(new int64_t[static_cast<size_t>(n)]);
  exact_row_norms(x, norm, n, d);
  for (int64_t i = 0; i < n; ++i) {
    if (!(norm[i] >= eps) || !std::isfinite(norm[i])) return false;
  }
  ce::divide_rows(x, norm, xh, n, d, o.eps);
  blas::mm(xh, false, xh, true, cos, n, n, d);
  at::parallel_for(0, n, grain(n + 2 * d), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T* row = cos + i * n;
      row[i] = -2;  // fill_diagonal_(-2), then argmax: the first of the largest
      // (every value finite here), in 8 lanes of columns j = l mod 8, each the
      // first of its largest; merged by value, ties to the smaller index
      int64_t best = 0;
      if (n >= 16) {
        T lv[8];
        int64_t li[8];
        for (int l = 0; l < 8; ++l) lv[l] = row[l], li[l] = l;
        int64_t j = 8;
        for (; j + 8 <= n; j += 8) {
          for (int l = 0; l < 8; ++l) {
            const bool more = row[j + l] > lv[l];
            lv[l] = more ? row[j + l] : lv[l];
            li[l] = more ? j + l : li[l];
          }
        }
        for (; j < n; ++j) {
          if (row[j] > lv[j % 8]) lv[j % 8] = row[j], li[j % 8] = j;
        }
        best = li[0];
        T bv = lv[0];
        for (int l = 1; l < 8; ++l) {
          if (lv[l] > bv || (lv[l] == bv && li[l] < best)) bv = lv[l], best = li[l];
        }
      } else {
        for (int64_t j = 1; j < n; ++j) {
          if (row[j] > row[best]) best = j;
        }
      }
      nn[i] = best;
      const T* a = xh + i * d;
      const T* b = xh + best * d;
      T* vi = v + i * d;
      for (int64_t c = 0; c < d; ++c) vi[c] = T(a[c] - b[c]) + eps;
    }
  });
  exact_row_norms(v, dist, n, d);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::log(static_cast<double>(T(dist[i] + eps)));
  r.loss = -sum / static_cast<double>(n);
  if (!o.grad) return true;
  // as direct(): k = -1 / N / (d + eps) / d (0 where d = 0), gv = v k, the
  // neighbours' shares subtracted in row order, then the row's own added
  const T first = T(-1) / static_cast<T>(n);
  for (int64_t i = 0; i < n; ++i) k[i] = dist[i] == 0 ? T(0) : T(T(first / T(dist[i] + eps)) / dist[i]);
  at::Tensor grad_t = at::zeros({n, d}, x_t.options());
  T* g = grad_t.data_ptr<T>();
  for (int64_t i = 0; i < n; ++i) {
    T* vi = v + i * d;
    const T ki = k[i];
    for (int64_t c = 0; c < d; ++c) vi[c] *= ki;
  }
  for (int64_t i = 0; i < n; ++i) {
    T* gi = g + nn[i] * d;
    const T* vi = v + i * d;
    for (int64_t c = 0; c < d; ++c) gi[c] = gi[c] + T(-1) * vi[c];
  }
  for (int64_t i = 0; i < n * d; ++i) g[i] += v[i];
  // normalize's backward in place (every |x| >= eps here): (g - xh (g . xh)) / |x|
  ce::normalize_backward(g, xh, norm, n, d, o.eps);
  r.grad = grad_t;
  return true;
}

}  // namespace

KoleoResult koleo_loss(const at::Tensor& x, const KoleoOptions& o) {
  PAIRLOSS_CHECK(x.defined() && x.dim() == 2, "x must be 2-D");
  if (!at::isFloatingType(x.scalar_type())) throw_type_error("x must be float32 or float64");
  PAIRLOSS_CHECK(x.size(1) > 0, "x must not be empty");
  if (x.size(0) < 2) {
    throw_range_error("x: KoLeo's nearest neighbours need N >= 2 rows, got N = " + std::to_string(x.size(0)));
  }
  if (o.check_finite) check_finite(x, "x");
  KoleoResult r;
  if (!fused_enabled()) {
    r = reference(x, o);
  } else {
    const at::Tensor xc = x.contiguous();
    bool done = false;
    if (xc.device().is_cpu()) {
      AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "koleo_cpu", [&] {
        done = direct_cpu<scalar_t>(xc, o, r);
      });
    }
    if (!done) r = direct(xc, o);
  }
  const at::Tensor& out = o.out_grad;
  if (r.grad.defined() && out.defined() && out.device() == r.grad.device() && out.sizes().equals(r.grad.sizes()) &&
      out.scalar_type() == r.grad.scalar_type() && out.is_contiguous()) {
    r.grad = out.copy_(r.grad);
  }
  return r;
}

}  // namespace pairloss
