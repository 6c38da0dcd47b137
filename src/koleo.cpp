#include "koleo.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "blas.h"
#include "errors.h"
#include "fused.h"
#include "ops.h"

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

}  // namespace

KoleoResult koleo_loss(const at::Tensor& x, const KoleoOptions& o) {
  PAIRLOSS_CHECK(x.defined() && x.dim() == 2, "x must be 2-D");
  if (!at::isFloatingType(x.scalar_type())) throw_type_error("x must be float32 or float64");
  PAIRLOSS_CHECK(x.size(1) > 0, "x must not be empty");
  if (x.size(0) < 2) {
    throw_range_error("x: KoLeo's nearest neighbours need N >= 2 rows, got N = " + std::to_string(x.size(0)));
  }
  if (o.check_finite) check_finite(x, "x");
  KoleoResult r = fused_enabled() ? direct(x.contiguous(), o) : reference(x, o);
  const at::Tensor& out = o.out_grad;
  if (r.grad.defined() && out.defined() && out.device() == r.grad.device() && out.sizes().equals(r.grad.sizes()) &&
      out.scalar_type() == r.grad.scalar_type() && out.is_contiguous()) {
    r.grad = out.copy_(r.grad);
  }
  return r;
}

}  // namespace pairloss
