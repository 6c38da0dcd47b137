// NT-Xent on the N-pairs graph: [z1; z2] against itself, each row leaving
// out its own view (npairs_loss with exclude_self); with a memory bank,
// lightly's one-positive-K-negatives form from LibTorch autograd.
#include "nt_xent.h"

#include <numeric>
#include <string>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "errors.h"
#include "npairs.h"
#include "ops.h"
#include "process_group.h"

namespace pairloss {

namespace {

// The gradient [2N, D] of the concatenated views as the two [N, D] halves, in
// the caller's memory where given (NtXentOptions::out_grad1/2).
void split_gradient(const at::Tensor& g, int64_t n, const NtXentOptions& o, NpairsResult& r) {
  at::Tensor h1 = g.narrow(0, 0, n), h2 = g.narrow(0, n, n);
  auto fits = [&](const at::Tensor& out) {
    return out.defined() && out.device() == g.device() && out.sizes().equals(h1.sizes()) &&
           out.scalar_type() == g.scalar_type() && out.is_contiguous();
  };
  if (fits(o.out_grad1) && fits(o.out_grad2)) {
    r.grad1 = o.out_grad1.copy_(h1);
    r.grad2 = o.out_grad2.copy_(h2);
  } else {
    r.grad1 = h1.clone();
    r.grad2 = h2.clone();
  }
}

// lightly's memory-bank form: sim_pos = <out0_i, out1_i>, sim_neg = out0 @ bank.T,
// cross entropy of [sim_pos, sim_neg] / temperature against class 0, the
// mean over the N rows (under a group: the mean of the ranks' means).
NpairsResult with_memory_bank(const at::Tensor& z1_in, const at::Tensor& z2_in, const NtXentOptions& o) {
  const int64_t n = z1_in.size(0);
  at::AutoGradMode grad_mode(o.grad);
  at::Tensor z1 = z1_in.detach(), z2 = z2_in.detach();
  at::Tensor temperature = at::scalar_tensor(o.temperature, z1_in.options());
  if (o.grad) {
    z1.requires_grad_(true);
    z2.requires_grad_(true);
    temperature.requires_grad_(true);
  }
  at::Tensor out0 = normalize(z1, 2.0, 1, o.eps), out1 = normalize(z2, 2.0, 1, o.eps);
  at::Tensor bank = normalize(o.negatives.detach(), 2.0, 1, o.eps);
  at::Tensor sim_pos = (out0 * out1).sum(1, true);
  at::Tensor sim_neg = at::matmul(out0, bank.t());
  at::Tensor logits = at::cat({sim_pos, sim_neg}, 1) / temperature;
  at::Tensor target = at::zeros({n}, z1_in.options().dtype(at::kLong));
  at::Tensor loss = cross_entropy(logits, target, Reduction::Mean, 0.0);

  NpairsResult r;
  const double w = o.group ? static_cast<double>(o.group->world_size()) : 1.0;
  if (o.grad) {
    auto grads = torch::autograd::grad({loss}, {z1, z2, temperature});
    at::NoGradGuard no_grad;
    r.grad1 = grads[0];
    r.grad2 = grads[1];
    r.grad_temperature = grads[2].item<double>();
  }
  at::NoGradGuard no_grad;
  r.loss = loss.item<double>();
  if (o.group) {
    // each rank's rows depend on its own inputs only: the global mean is the
    // mean of the ranks' losses, its gradient this rank's divided by W
    at::Tensor scalars = at::tensor({r.loss, r.grad_temperature.value_or(0.0)}, at::kDouble);
    // (on the group's thread: nt_xent_loss runs this under o.group->run)
    at::Tensor total = sum_over_ranks(o.group.get(), scalars, "ntXentLoss: all-reduce of the loss");
    r.loss = total[0].item<double>() / w;
    if (o.grad) {
      r.grad_temperature = total[1].item<double>() / w;
      r.grad1 = r.grad1 / w;
      r.grad2 = r.grad2 / w;
    }
  }
  return r;
}

}  // namespace

NpairsResult nt_xent_loss(const at::Tensor& z1, const at::Tensor& z2, const NtXentOptions& o) {
  check_loss_inputs(z1, z2, true, o.check_finite, "z1", "z2");
  const int64_t n = z1.size(0);
  if (o.negatives.defined()) {
    PAIRLOSS_CHECK(o.negatives.dim() == 2 && o.negatives.size(1) == z1.size(1) && o.negatives.size(0) > 0 &&
                       o.negatives.scalar_type() == z1.scalar_type() && o.negatives.device() == z1.device(),
                   "negatives must be [K, D] of the inputs' dtype and device, K >= 1");
    if (o.check_finite) check_finite(o.negatives, "negatives");
    if (o.group) {
      NpairsResult r;
      o.group->run([&] { r = with_memory_bank(z1, z2, o); });
      return r;
    }
    return with_memory_bank(z1, z2, o);
  }

  // SimCLR's 2N views: row i's positive is its other view, i + N mod 2N
  const at::Tensor z = at::cat({z1, z2});
  NpairsOptions p;
  if (z.device().is_cpu()) {
    p.target = at::empty({2 * n}, at::kLong);
    int64_t* t = p.target.data_ptr<int64_t>();
    for (int64_t i = 0; i < 2 * n; ++i) t[i] = (i + n) % (2 * n);
  } else {
    p.target = (at::arange(2 * n, z.options().dtype(at::kLong)) + n).remainder(2 * n);
  }
  p.temperature = o.temperature;
  p.eps = o.eps;
  p.exclude_self = true;
  p.grad = o.grad;
  p.group = o.group;
  NpairsResult r = npairs_loss(z, z, p);
  if (o.grad) {
    at::NoGradGuard no_grad;
    // z is both x1 and x2: its gradient is the sum of the two
    split_gradient(r.grad1.add_(r.grad2), n, o, r);
  }
  return r;
}

}  // namespace pairloss
