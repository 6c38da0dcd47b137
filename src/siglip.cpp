#include "siglip.h"

#include <algorithm>
#include <string>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "ce_kernels.h"
#include "chunked.h"
#include "errors.h"
#include "fused.h"
#include "ops.h"
#include "process_group.h"

namespace pairloss {

namespace {

// SigLIP's labels: +1 at (i, positive_from + i), -1 elsewhere (none positive with positive_from < 0).
at::Tensor diagonal_labels(int64_t n, int64_t m, int64_t positive_from, const at::TensorOptions& options) {
  at::Tensor y = at::full({n, m}, -1.0, options);
  if (positive_from >= 0 && positive_from < m) y.diagonal(positive_from).fill_(1.0);
  return y;
}

// The reference path: LibTorch autograd on open_clip's expression
// (logits = logit_scale * img @ txt.T + logit_bias; -logsigmoid(labels * logits).sum() / N).
SigmoidLossResult reference(const at::Tensor& x1_in, const at::Tensor& x2_in, const SigmoidOptions& o) {
  const int64_t n = x1_in.size(0), m = x2_in.size(0);
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor x1 = x1_in.detach(), x2 = x2_in.detach();
  at::Tensor scale = at::scalar_tensor(o.scale, x1_in.options()), bias = at::scalar_tensor(o.bias, x1_in.options());
  if (o.grad) {
    for (at::Tensor* t : {&x1, &x2, &scale, &bias}) t->requires_grad_(true);
  }
  at::Tensor img = normalize(x1, 2.0, 1, o.eps), txt = normalize(x2, 2.0, 1, o.eps);
  at::Tensor logits = scale * img.matmul(txt.t()) + bias;
  at::Tensor labels = o.target.defined() ? o.target : diagonal_labels(n, m, 0, x1_in.options());
  at::Tensor loss = -at::log_sigmoid(labels * logits).sum() / n;
  SigmoidLossResult r;
  r.loss = loss.item<double>();
  if (o.grad) {
    auto g = torch::autograd::grad({loss}, {x1, x2, scale, bias});
    r.grad1 = g[0];
    r.grad2 = g[1];
    r.grad_scale = g[2].item<double>();
    r.grad_bias = g[3].item<double>();
  }
  return r;
}

// One block of the group path: this rank's rows y1 against one rank's
// normalised columns y2. Returns the block's summed loss and adds
// dloss/dS-weighted products to the gradients: g1 += G @ y2, g2 += G.T @ y1.
// A block too large to hold (chunked.h's budget) goes in row slices.
struct BlockSums {
  double loss = 0, gscale = 0, gbias = 0;
};
BlockSums sigmoid_rows(const at::Tensor& y1, const at::Tensor& y2, const at::Tensor& labels, int64_t positive_from,
                       const SigmoidOptions& o, double w, at::Tensor* g1, at::Tensor* g2) {
  at::NoGradGuard no_grad;
  at::Tensor S = y1.matmul(y2.t()).contiguous();
  BlockSums b;
  at::Tensor G;
  if (S.device().is_cpu() && fused_enabled()) {
    ce::SigmoidProblem p;
    p.n = S.size(0);
    p.m = S.size(1);
    p.scale = o.scale;
    p.bias = o.bias;
    at::Tensor lc = labels.defined() ? labels.contiguous() : labels;
    p.labels = lc.defined() ? lc.data_ptr() : nullptr;
    p.positive_from = positive_from;
    p.w = w;
    p.grad = o.grad;
    const ce::SigmoidResult s = S.scalar_type() == at::kDouble ? ce::sigmoid_run(S.data_ptr<double>(), S.data_ptr<double>(), p)
                                                              : ce::sigmoid_run(S.data_ptr<float>(), S.data_ptr<float>(), p);
    b = {s.loss, s.gscale, s.gbias};
    G = S;
  } else {
    at::Tensor y = labels.defined() ? labels : diagonal_labels(S.size(0), S.size(1), positive_from, S.options());
    at::Tensor l = y * (o.scale * S + o.bias);
    b.loss = (-at::log_sigmoid(l)).sum().item<double>();
    if (o.grad) {
      at::Tensor dz = -y * at::sigmoid(-l);
      b.gscale = w * (dz * S).sum().item<double>();
      b.gbias = w * dz.sum().item<double>();
      G = dz.mul_(w * o.scale);
    }
  }
  if (o.grad) {
    g1->addmm_(G, y2);
    g2->addmm_(G.t(), y1);
  }
  return b;
}

BlockSums sigmoid_block(const at::Tensor& y1, const at::Tensor& y2, const at::Tensor& labels, int64_t positive_from,
                        const SigmoidOptions& o, double w, at::Tensor* g1, at::Tensor* g2) {
  const int64_t n = y1.size(0), m = y2.size(0), size = static_cast<int64_t>(y1.element_size());
  if (!chunking_wanted(n, m, size)) return sigmoid_rows(y1, y2, labels, positive_from, o, w, g1, g2);
  const int64_t rows = chunked_rows(m, size);
  BlockSums total;
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    const int64_t b = std::min(rows, n - r0);
    at::Tensor g1b = g1->narrow(0, r0, b);
    const BlockSums s = sigmoid_rows(y1.narrow(0, r0, b), y2, labels.defined() ? labels.narrow(0, r0, b) : labels,
                                     positive_from < 0 ? -1 : positive_from + r0, o, w, &g1b, g2);
    total.loss += s.loss;
    total.gscale += s.gscale;
    total.gbias += s.gbias;
  }
  count_chunked_call();
  return total;
}

// Under a group, on the group's thread: open_clip's neighbour exchange. The
// x2 block and the gradient it has gathered travel the ring together; after
// W - 1 exchanges every rank has seen every block, and one more brings each
// block's gradient home.
SigmoidLossResult ring(const at::Tensor& x1_in, const at::Tensor& x2_in, const SigmoidOptions& o, ProcessGroup& g) {
  const int64_t w = g.world_size(), n = x1_in.size(0), m = x2_in.size(0);
  const double weight = 1.0 / static_cast<double>(w * n);
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor x1 = x1_in.detach(), x2 = x2_in.detach();
  if (o.grad) {
    x1.requires_grad_(true);
    x2.requires_grad_(true);
  }
  at::Tensor y1 = normalize(x1, 2.0, 1, o.eps), y2 = normalize(x2, 2.0, 1, o.eps);
  at::Tensor Y1 = y1.detach(), block = y2.detach();
  at::Tensor g1 = at::zeros_like(Y1), gacc = at::zeros_like(block);
  BlockSums total;
  for (int64_t k = 0; k < w; ++k) {
    if (k > 0) {
      at::Tensor packed = g.ring_shift(at::cat({block, gacc}), "sigmoidLoss: neighbour exchange of x2");
      block = packed.narrow(0, 0, m);
      gacc = packed.narrow(0, m, m).clone();
    }
    // this rank's own block carries its labels; the other ranks' columns are negatives
    const BlockSums b = sigmoid_block(Y1, block, k == 0 ? o.target : at::Tensor(), k == 0 ? 0 : -1, o, weight, &g1, &gacc);
    total.loss += b.loss;
    total.gscale += b.gscale;
    total.gbias += b.gbias;
  }
  at::NoGradGuard no_grad;
  at::Tensor sums = sum_over_ranks(&g, at::tensor({total.loss, total.gscale, total.gbias}, at::kDouble),
                                   "sigmoidLoss: all-reduce of the loss");
  SigmoidLossResult r;
  r.loss = sums[0].item<double>() * weight;
  if (!o.grad) return r;
  r.grad_scale = sums[1].item<double>();
  r.grad_bias = sums[2].item<double>();
  // the gradient of this rank's own x2 block, home after its round
  at::Tensor g2 = w > 1 ? g.ring_shift(gacc, "sigmoidLoss: gradient of x2 home") : gacc;
  at::AutoGradMode enable(true);
  auto grads = torch::autograd::grad({y1, y2}, {x1, x2}, {g1, g2});
  r.grad1 = grads[0];
  r.grad2 = grads[1];
  return r;
}

}  // namespace

SigmoidLossResult sigmoid_loss(const at::Tensor& x1, const at::Tensor& x2, const SigmoidOptions& o) {
  check_loss_inputs(x1, x2, false, o.check_finite, "x1", "x2");
  if (o.target.defined()) {
    PAIRLOSS_CHECK(o.target.dim() == 2 && o.target.size(0) == x1.size(0) && o.target.size(1) == x2.size(0) &&
                       o.target.scalar_type() == x1.scalar_type() && o.target.device() == x1.device(),
                   "target must be [N, M] of the inputs' dtype and device");
    if (o.check_finite) check_finite(o.target, "target");
  }
  if (o.group) {
    SigmoidLossResult r;
    o.group->run([&] { r = ring(x1, x2, o, *o.group); });
    return r;
  }
  if (fused_enabled() && x1.device().is_cpu() && x1.size(1) > 1) {
    // the matrix too large to hold: row blocks (chunked.h's settings), the same numbers
    const int64_t n = x1.size(0), m = x2.size(0), size = static_cast<int64_t>(x1.element_size());
    if (chunking_wanted(n, m, size)) {
      if (auto r = sigmoid_fused(x1, x2, o, chunked_rows(m, size))) {
        count_chunked_call();
        return *r;
      }
    } else if (auto r = sigmoid_fused(x1, x2, o)) {
      return *r;
    }
  }
  return reference(x1, x2, o);
}

}  // namespace pairloss
