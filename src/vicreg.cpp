#include "vicreg.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "errors.h"
#include "fused.h"
#include "ops.h"
#include "process_group.h"

namespace pairloss {

namespace {

// lightly's terms, as written there (the reference path, LibTorch autograd).
at::Tensor variance_term(const at::Tensor& x, const VicregOptions& o) {
  at::Tensor std = at::sqrt(x.var(0) + o.eps);
  return at::relu(o.gamma - std).mean();
}

at::Tensor covariance_term(const at::Tensor& x_in) {
  const int64_t n = x_in.size(0), d = x_in.size(1);
  at::Tensor x = x_in - x_in.mean(0);
  at::Tensor cov = at::matmul(x.t(), x) / static_cast<double>(n - 1);
  at::Tensor off = ~at::eye(d, x.options().dtype(at::kBool));
  return cov.masked_select(off).pow(2).sum() / static_cast<double>(d);
}

VicregResult reference(const at::Tensor& z1_in, const at::Tensor& z2_in, const VicregOptions& o) {
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor z1 = z1_in.detach(), z2 = z2_in.detach();
  if (o.grad) {
    z1.requires_grad_(true);
    z2.requires_grad_(true);
  }
  at::Tensor inv = at::mse_loss(z1, z2);
  at::Tensor var = 0.5 * (variance_term(z1, o) + variance_term(z2, o));
  at::Tensor cov = covariance_term(z1) + covariance_term(z2);
  at::Tensor loss = o.invariance_weight * inv + o.variance_weight * var + o.covariance_weight * cov;
  VicregResult r;
  r.loss = loss.item<double>();
  r.invariance = inv.item<double>();
  r.variance = var.item<double>();
  r.covariance = cov.item<double>();
  if (o.grad) {
    auto g = torch::autograd::grad({loss}, {z1, z2});
    r.grad1 = g[0];
    r.grad2 = g[1];
  }
  return r;
}

// The hand-derived form (no graph; any device): per view, c = z - mean,
// var_j = sum_i c_ij^2 / (N - 1), C = c^T c / (N - 1). The hinge's gradient is
// -w_v / (2 D) * c_ij / ((N - 1) std_j) where std_j < gamma; the covariance
// term's is 4 w_c / D * c C_off / (N - 1) (C symmetric); both pass the
// centering unchanged (the columns of c sum to 0).
struct View {
  double hinge = 0, cov = 0;
  at::Tensor grad;  // of w_v * hinge / 2 + w_c * cov
};
View view_terms(const at::Tensor& z, const VicregOptions& o) {
  const int64_t n = z.size(0), d = z.size(1);
  const double k = 1.0 / static_cast<double>(n - 1);
  at::Tensor c = z - z.mean(0, true);
  at::Tensor var = c.pow(2).sum(0) * k;
  at::Tensor std = at::sqrt(var + o.eps);
  at::Tensor active = std.lt(o.gamma);
  View v;
  v.hinge = at::relu(o.gamma - std).mean().item<double>();
  at::Tensor C = at::mm(c.t(), c).mul_(k);
  C.diagonal().zero_();
  v.cov = C.pow(2).sum().item<double>() / static_cast<double>(d);
  if (o.grad) {
    at::Tensor dstd = at::where(active, -0.5 * o.variance_weight / static_cast<double>(d) * k / std, at::zeros_like(std));
    v.grad = at::addmm(c * dstd, c, C, 1.0, 4.0 * o.covariance_weight / static_cast<double>(d) * k);
  }
  return v;
}

VicregResult direct(const at::Tensor& z1, const at::Tensor& z2, const VicregOptions& o) {
  at::NoGradGuard no_grad;
  const double count = static_cast<double>(z1.numel());
  at::Tensor diff = z1 - z2;
  VicregResult r;
  r.invariance = diff.pow(2).sum().item<double>() / count;
  View a = view_terms(z1, o), b = view_terms(z2, o);
  r.variance = 0.5 * (a.hinge + b.hinge);
  r.covariance = a.cov + b.cov;
  r.loss = o.invariance_weight * r.invariance + o.variance_weight * r.variance + o.covariance_weight * r.covariance;
  if (o.grad) {
    const double s = 2.0 * o.invariance_weight / count;
    r.grad1 = a.grad.add_(diff, s);
    r.grad2 = b.grad.sub_(diff, s);
  }
  return r;
}

VicregResult local(const at::Tensor& z1, const at::Tensor& z2, const VicregOptions& o) {
  VicregResult r = fused_enabled() ? direct(z1, z2, o) : reference(z1, z2, o);
  place_gradient(r.grad1, o.out_grad1);
  place_gradient(r.grad2, o.out_grad2);
  return r;
}

}  // namespace

VicregResult vicreg_loss(const at::Tensor& z1, const at::Tensor& z2, const VicregOptions& o) {
  check_loss_inputs(z1, z2, true, o.check_finite, "z1", "z2");
  if (!o.group) {
    if (z1.size(0) < 2) throw_range_error("z1: VICReg's variance over the batch needs N >= 2, got N = 1");
    return local(z1, z2, o);
  }
  VicregResult r;
  o.group->run([&] {
    ProcessGroup& g = *o.group;
    const int64_t n = z1.size(0);
    // one process on the concatenated batch: every rank computes it, and takes its rows' gradients
    at::Tensor all1 = cat_over_ranks(&g, z1, "vicregLoss: all-gather of z1");
    at::Tensor all2 = cat_over_ranks(&g, z2, "vicregLoss: all-gather of z2");
    if (all1.size(0) < 2) throw_range_error("z1: VICReg's variance over the global batch needs W * N >= 2, got 1");
    r = local(all1, all2, o);
    if (o.grad) {
      r.grad1 = r.grad1.narrow(0, g.rank() * n, n).clone();
      r.grad2 = r.grad2.narrow(0, g.rank() * n, n).clone();
    }
  });
  return r;
}

}  // namespace pairloss
