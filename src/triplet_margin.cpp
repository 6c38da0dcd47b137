#include "triplet_margin.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "errors.h"
#include "fused.h"
#include "ops.h"
#include "parallel.h"

namespace pairloss {

namespace {

using Options = TripletMarginOptions;

constexpr double kNormEps = 1e-12;  // BaseDistance.normalize: F.normalize's default eps

bool euclidean(const Options& o) { return o.distance == TripletDistance::Euclidean; }

// PML's distance matrix of the normalised rows with themselves
// (distances/lp_distance.py compute_mat: torch.cdist(q, r, p=2), which
// LibTorch computes directly for N <= 25 and through one matrix product
// above; distances/dot_product_similarity.py: q @ r.T).
at::Tensor distance_matrix(const at::Tensor& xn, const Options& o) {
  return euclidean(o) ? at::cdist(xn, xn, 2.0) : at::matmul(xn, xn.t());
}

// ---- the reference path: PML's code in LibTorch, gradient by autograd ----

struct Triplets {
  at::Tensor a, p, n;
};

// miners/batch_easy_hard_miner.py (pos HARD, neg HARD: the farthest
// positive and the nearest negative, get_x_per_row masking the others with
// finfo's max/min, torch.max/min's first index), anchors without a positive
// or a negative dropped (a1p_keep & a2n_keep); mining "all":
// utils/loss_and_miner_utils.py get_all_triplets_indices.
Triplets mine(const at::Tensor& mat, const at::Tensor& labels, const Options& o) {
  at::NoGradGuard no_grad;
  at::Tensor same = labels.unsqueeze(1).eq(labels.unsqueeze(0));
  at::Tensor matches = same.clone();
  matches.fill_diagonal_(false);
  at::Tensor diffs = same.logical_not();
  if (o.mining == TripletMining::All) {
    at::Tensor idx = at::nonzero(matches.unsqueeze(2).logical_and(diffs.unsqueeze(1)));
    return {idx.select(1, 0), idx.select(1, 1), idx.select(1, 2)};
  }
  const bool inverted = !euclidean(o);  // CosineSimilarity: larger is closer
  const double big = mat.scalar_type() == at::kFloat ? std::numeric_limits<float>::max() : std::numeric_limits<double>::max();
  auto per_row = [&](const at::Tensor& valid, bool take_max) {
    at::Tensor m = mat.masked_fill(valid.logical_not(), take_max ? -big : big);
    at::Tensor index = take_max ? std::get<1>(at::max(m, 1)) : std::get<1>(at::min(m, 1));
    return std::make_pair(index, valid.any(1));
  };
  auto pos = per_row(matches, !inverted);
  auto neg = per_row(diffs, inverted);
  at::Tensor a = at::nonzero(pos.second.logical_and(neg.second)).select(1, 0);
  return {a, pos.first.index_select(0, a), neg.first.index_select(0, a)};
}

TripletMarginResult reference(const at::Tensor& x_in, const at::Tensor& labels_cpu, const Options& o) {
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor x = x_in.detach();
  if (o.grad) x.requires_grad_(true);
  at::Tensor labels = labels_cpu.to(x.device());
  const int64_t n = x.size(0);
  at::Tensor xn = normalize(x, 2.0, 1, kNormEps);
  Triplets t = mine(distance_matrix(xn.detach(), o), labels, o);
  // reducers/base_reducer.py zero_loss: torch.sum(embeddings * 0)
  at::Tensor loss = (x * 0).sum();
  if (t.a.numel() > 0) {
    // losses/triplet_margin_loss.py compute_loss (swap off, smooth_loss off)
    at::Tensor mat = distance_matrix(xn, o).reshape({-1});
    at::Tensor ap = mat.index_select(0, t.a * n + t.p), an = mat.index_select(0, t.a * n + t.n);
    at::Tensor current = euclidean(o) ? ap - an : an - ap;  // BaseDistance.margin
    at::Tensor losses = at::relu(current + o.margin);
    // reducers/threshold_reducer.py (AvgNonZeroReducer: low=0)
    at::Tensor kept = losses.masked_select(losses.gt(0));
    if (kept.numel() >= 1) loss = kept.mean();
  }
  TripletMarginResult r;
  r.loss = loss.item<double>();
  if (o.grad) r.grad = torch::autograd::grad({loss}, {x})[0];
  return r;
}

// ---- the direct path: the same numbers without a graph ----
//
// Each triplet's value v = (key(a, p) - key(a, n)) + margin in the dtype, as
// PML computes it, key = d (euclidean) or -s (cosine: s(a,n) - s(a,p) is
// exactly -s(a,p) - (-s(a,n))). Its gradient is a matrix C of coefficients
// on the entries of the distance matrix, C / K over the K triplets with
// v > 0; then cdist's backward (C / d, 0 where d = 0, as
// _euclidean_dist_backward and _cdist_backward) or the product's, then
// F.normalize's.

// F.normalize's backward: g / c - [|x| >= eps] (g . x) x / (c^2 |x|), c = max(|x|, eps).
at::Tensor normalize_backward(const at::Tensor& g, const at::Tensor& xn, const at::Tensor& norm, const at::Tensor& den) {
  at::Tensor dot = (g * xn).sum(1, true);
  return at::where(norm.ge(kNormEps), (g - xn * dot) / den, g / den);
}

template <typename T>
struct Coefficients {
  double sum = 0;  // of v over the triplets with v > 0
  int64_t count = 0;
};

// Batch-hard: one triplet per anchor, its coefficients added to g_xn directly.
template <typename T>
Coefficients<T> batch_hard(const T* mat, const int64_t* labels, int64_t n, const Options& o, std::vector<int64_t>& pos,
                           std::vector<int64_t>& neg) {
  const bool inverted = !euclidean(o);
  at::parallel_for(0, n, grain(n), [&](int64_t begin, int64_t end) {
    for (int64_t a = begin; a < end; a++) {
      const T* row = mat + a * n;
      int64_t bp = -1, bn = -1;
      for (int64_t j = 0; j < n; j++) {
        const T v = row[j];
        if (labels[j] == labels[a]) {
          if (j == a) continue;
          // hardest positive: the largest distance (smallest similarity), first index
          if (bp < 0 || (inverted ? v < row[bp] : v > row[bp])) bp = j;
        } else if (bn < 0 || (inverted ? v > row[bn] : v < row[bn])) {
          bn = j;  // hardest negative: the smallest distance (largest similarity)
        }
      }
      pos[a] = bp;
      neg[a] = bn;
    }
  });
  Coefficients<T> c;
  const T margin = static_cast<T>(o.margin);
  for (int64_t a = 0; a < n; a++) {
    if (pos[a] < 0 || neg[a] < 0) continue;
    const T* row = mat + a * n;
    const T current = inverted ? T(row[neg[a]] - row[pos[a]]) : T(row[pos[a]] - row[neg[a]]);
    const T v = current + margin;
    if (v > T(0)) {
      c.sum += static_cast<double>(v);
      c.count++;
    } else {
      pos[a] = -1;  // not in the mean: no gradient
    }
  }
  return c;
}

// All triplets: per anchor, its positives sorted by key. v falls as
// key(a, n) grows and rises with key(a, p), rounding included, so a
// negative's active positives are a suffix of them: c_n of them, found by
// bisection. The positive at sorted position i is then active with the
// negatives of c_n >= P - i: a histogram of c_n (counts and key sums) gives
// each positive's count and sum of v without sorting the negatives.
// coef[a, j] gets the count of active triplets through (a, j), signed as
// d v / d key(a, j).
template <typename T>
Coefficients<T> all_triplets(const T* mat, const int64_t* labels, int64_t n, const Options& o, T* coef) {
  const bool inverted = !euclidean(o);
  const T margin = static_cast<T>(o.margin);
  std::vector<double> sums(n, 0.0);
  std::vector<int64_t> counts(n, 0);
  at::parallel_for(0, n, std::max<int64_t>(1, grain(n * 16)), [&](int64_t begin, int64_t end) {
    std::vector<std::pair<T, int64_t>> ps;  // (key, column) of the positives, sorted
    std::vector<int64_t> hist_count;
    std::vector<double> hist_sum;
    for (int64_t a = begin; a < end; a++) {
      const T* row = mat + a * n;
      auto key = [&](int64_t j) { return inverted ? T(-row[j]) : row[j]; };
      ps.clear();
      bool any_negative = false;
      for (int64_t j = 0; j < n; j++) {
        if (labels[j] != labels[a]) {
          any_negative = true;
        } else if (j != a) {
          ps.emplace_back(key(j), j);
        }
      }
      if (ps.empty() || !any_negative) continue;
      std::sort(ps.begin(), ps.end());
      const int64_t np = static_cast<int64_t>(ps.size());
      hist_count.assign(np + 1, 0);
      hist_sum.assign(np + 1, 0.0);
      T* crow = coef + a * n;
      for (int64_t j = 0; j < n; j++) {
        if (labels[j] == labels[a]) continue;
        const T kn = key(j);
        auto inactive = [&](const std::pair<T, int64_t>& p) { return !(T(T(p.first - kn) + margin) > T(0)); };
        const int64_t c = ps.end() - std::partition_point(ps.begin(), ps.end(), inactive);
        hist_count[c]++;
        hist_sum[c] += static_cast<double>(kn);
        if (c > 0) crow[j] = -static_cast<T>(c);
      }
      double sum = 0;
      int64_t count = 0, active = 0;
      double active_keys = 0;
      for (int64_t i = 0; i < np; i++) {
        active += hist_count[np - i];
        active_keys += hist_sum[np - i];
        if (active == 0) continue;
        sum += static_cast<double>(active) * (static_cast<double>(ps[i].first) + static_cast<double>(margin)) - active_keys;
        count += active;
        crow[ps[i].second] = static_cast<T>(active);
      }
      sums[a] = sum;
      counts[a] = count;
    }
  });
  Coefficients<T> c;
  for (int64_t a = 0; a < n; a++) {
    c.sum += sums[a];
    c.count += counts[a];
  }
  return c;
}

template <typename T>
TripletMarginResult direct(const at::Tensor& x_in, const at::Tensor& labels, const Options& o) {
  at::NoGradGuard no_grad;
  at::Tensor x = x_in.contiguous();
  const int64_t n = x.size(0), d = x.size(1);
  at::Tensor norm = x.norm(2, 1, true);
  at::Tensor den = norm.clamp_min(kNormEps);
  at::Tensor xn = x / den;
  at::Tensor mat = distance_matrix(xn, o).contiguous();
  const T* m = mat.data_ptr<T>();
  const int64_t* lab = labels.data_ptr<int64_t>();
  const bool euclid = euclidean(o);
  TripletMarginResult r;
  if (o.mining == TripletMining::BatchHard) {
    std::vector<int64_t> pos(n), neg(n);
    Coefficients<T> c = batch_hard<T>(m, lab, n, o, pos, neg);
    r.loss = c.count > 0 ? c.sum / static_cast<double>(c.count) : 0.0;
    if (!o.grad) return r;
    at::Tensor g = at::zeros_like(xn);
    if (c.count > 0) {
      const T w = T(1) / static_cast<T>(c.count);  // the mean's backward
      T* gp = g.data_ptr<T>();
      const T* xp = xn.data_ptr<T>();
      // d v / d mat(a, j): +w for the positive, -w for the negative (cosine: the opposite)
      auto pair = [&](int64_t i, int64_t j, T coefficient) {
        T* gi = gp + i * d;
        T* gj = gp + j * d;
        const T* xi = xp + i * d;
        const T* xj = xp + j * d;
        if (euclid) {
          const T dist = m[i * n + j];
          if (dist == T(0)) return;
          const T ratio = coefficient / dist;
          for (int64_t k = 0; k < d; k++) {
            const T diff = ratio * (xi[k] - xj[k]);
            gi[k] += diff;
            gj[k] -= diff;
          }
        } else {
          for (int64_t k = 0; k < d; k++) {
            gi[k] += coefficient * xj[k];
            gj[k] += coefficient * xi[k];
          }
        }
      };
      for (int64_t a = 0; a < n; a++) {
        if (pos[a] < 0) continue;
        pair(a, pos[a], euclid ? w : -w);
        pair(a, neg[a], euclid ? -w : w);
      }
    }
    r.grad = normalize_backward(g, xn, norm, den);
    return r;
  }
  at::Tensor coef = at::zeros({n, n}, x.options());
  Coefficients<T> c = all_triplets<T>(m, lab, n, o, coef.data_ptr<T>());
  r.loss = c.count > 0 ? c.sum / static_cast<double>(c.count) : 0.0;
  if (!o.grad) return r;
  if (c.count == 0) {
    r.grad = at::zeros_like(x);
    return r;
  }
  // coefficients on the keys -> on the matrix (key = -s for cosine), over K
  coef.mul_(euclid ? 1.0 / static_cast<double>(c.count) : -1.0 / static_cast<double>(c.count));
  at::Tensor g;
  if (euclid) {
    at::Tensor ratio = at::where(mat.eq(0), at::zeros_like(coef), coef / mat);
    at::Tensor sym = ratio + ratio.t();
    g = at::addmm(xn * sym.sum(1, true), sym, xn, 1.0, -1.0);
  } else {
    g = at::mm(coef + coef.t(), xn);
  }
  r.grad = normalize_backward(g, xn, norm, den);
  return r;
}

}  // namespace

TripletMarginResult triplet_margin_loss(const at::Tensor& x, const at::Tensor& labels_in, const Options& o) {
  PAIRLOSS_CHECK(x.defined() && x.dim() == 2, "x must be 2-D");
  if (!at::isFloatingType(x.scalar_type())) throw_type_error("x must be float32 or float64");
  PAIRLOSS_CHECK(x.size(0) > 0 && x.size(1) > 0, "x must not be empty");
  PAIRLOSS_CHECK(labels_in.defined() && labels_in.dim() == 1 && labels_in.scalar_type() == at::kLong &&
                     labels_in.device().is_cpu() && labels_in.size(0) == x.size(0),
                 "labels must be an int64 CPU tensor of N entries");
  PAIRLOSS_CHECK(std::isfinite(o.margin), "margin must be finite");
  if (o.check_finite) check_finite(x, "x");
  at::Tensor labels = labels_in.contiguous();
  TripletMarginResult r;
  const auto type = x.scalar_type();
  if (fused_enabled() && x.device().is_cpu() && (type == at::kFloat || type == at::kDouble)) {
    r = type == at::kFloat ? direct<float>(x, labels, o) : direct<double>(x, labels, o);
  } else {
    r = reference(x, labels, o);
  }
  place_gradient(r.grad, o.out_grad);
  return r;
}

}  // namespace pairloss
