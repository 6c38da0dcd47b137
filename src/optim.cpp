#include "optim.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <string>

#include "errors.h"
#include "ops.h"
#include "parallel.h"

namespace pairloss {

namespace {

// The step's scalars, computed in double as Python computes them and then
// rounded to the tensors' dtype, as ATen rounds a Python number it is given.
template <typename T>
struct AdamScalars {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, decay, weight_decay, bias_correction2_sqrt, eps, neg_step_size;
  bool coupled_decay, decoupled_decay;
};

template <typename T>
AdamScalars<T> scalars(const AdamOptions& o) {
  const double step = static_cast<double>(o.step);
  const double bias_correction1 = 1 - std::pow(o.beta1, step);
  const double bias_correction2 = 1 - std::pow(o.beta2, step);
  AdamScalars<T> s;
  s.beta1 = static_cast<T>(o.beta1);
  s.one_minus_beta1 = static_cast<T>(1 - o.beta1);
  s.beta2 = static_cast<T>(o.beta2);
  s.one_minus_beta2 = static_cast<T>(1 - o.beta2);
  s.decay = static_cast<T>(1 - o.lr * o.weight_decay);
  s.weight_decay = static_cast<T>(o.weight_decay);
  s.bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  s.eps = static_cast<T>(o.eps);
  s.neg_step_size = static_cast<T>(-(o.lr / bias_correction1));
  s.coupled_decay = !o.decoupled_weight_decay && o.weight_decay != 0;
  s.decoupled_decay = o.decoupled_weight_decay;
  return s;
}

// Elements [begin, end) of one tensor: each line is one of torch's in-place
// ops, in its order. The options are template arguments, so that the loop
// has no branch and vectorises (sqrt and division are IEEE operations: the
// same bits in any lane width).
// a * b + c: fused (one rounding) where ATen's vectorised kernels fuse it
// (vec::fmadd on AVX2 builds), else two roundings, as ATen's default build.
template <bool kFma, typename T>
__attribute__((always_inline)) inline T madd(T a, T b, T c) {
  if constexpr (kFma) {
    return std::fma(a, b, c);
  } else {
    return a * b + c;
  }
}

template <typename T, bool kFma, bool kMaximize, bool kCoupled, bool kDecoupled, bool kAmsgrad>
__attribute__((always_inline)) inline void adam_range(T* __restrict param, const T* __restrict grad_in,
                                                      T* __restrict exp_avg, T* __restrict exp_avg_sq,
                                                      T* __restrict max_exp_avg_sq, const AdamScalars<T>& s,
                                                      int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    T grad = kMaximize ? -grad_in[i] : grad_in[i];
    T p = param[i];
    if (kCoupled) grad = madd<kFma>(p, s.weight_decay, grad);  // grad.add(param, alpha=weight_decay)
    if (kDecoupled) p = p * s.decay;                 // AdamW: param.mul_(1 - lr * weight_decay)
    T m = exp_avg[i] * s.beta1;                      // exp_avg.mul_(beta1)
    m = madd<kFma>(grad, s.one_minus_beta1, m);      //   .add_(grad, alpha=1 - beta1)
    T v = exp_avg_sq[i] * s.beta2;                   // exp_avg_sq.mul_(beta2)
    v = madd<kFma>(s.one_minus_beta2 * grad, grad, v);  //   .addcmul_(grad, grad, value=1 - beta2)
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    T second = v;
    if (kAmsgrad) {                                  // torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
      const T old = max_exp_avg_sq[i];
      second = (old < v || v != v) ? v : old;        //   (NaN propagates, from either side)
      max_exp_avg_sq[i] = second;
    }
    const T denom = std::sqrt(second) / s.bias_correction2_sqrt + s.eps;  // (sqrt() / bc2_sqrt).add_(eps)
    param[i] = p + s.neg_step_size * m / denom;                             // param.addcdiv_(exp_avg, denom, value=-step_size)
  }
}

template <typename T>
struct AdamArgs {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  T* max_exp_avg_sq;
};

template <typename T, bool kMaximize, bool kCoupled, bool kDecoupled, bool kAmsgrad>
void adam_default(const AdamArgs<T>& a, const AdamScalars<T>& s, int64_t begin, int64_t end) {
  adam_range<T, false, kMaximize, kCoupled, kDecoupled, kAmsgrad>(a.param, a.grad, a.exp_avg, a.exp_avg_sq, a.max_exp_avg_sq, s, begin, end);
}

// The same loop compiled for AVX2 and FMA, fusing where ATen's AVX2 kernels fuse.
template <typename T, bool kMaximize, bool kCoupled, bool kDecoupled, bool kAmsgrad>
__attribute__((target("avx2,fma"))) void adam_avx2(const AdamArgs<T>& a, const AdamScalars<T>& s, int64_t begin, int64_t end) {
  adam_range<T, true, kMaximize, kCoupled, kDecoupled, kAmsgrad>(a.param, a.grad, a.exp_avg, a.exp_avg_sq, a.max_exp_avg_sq, s, begin, end);
}

template <typename T>
using AdamKernel = void (*)(const AdamArgs<T>&, const AdamScalars<T>&, int64_t, int64_t);

template <typename T, bool kMaximize, bool kCoupled, bool kDecoupled, bool kAmsgrad>
AdamKernel<T> pick(bool avx2) {
  return avx2 ? adam_avx2<T, kMaximize, kCoupled, kDecoupled, kAmsgrad> : adam_default<T, kMaximize, kCoupled, kDecoupled, kAmsgrad>;
}

// The kernel for these options (16 instantiations per dtype).
template <typename T>
AdamKernel<T> adam_kernel(bool maximize, bool coupled, bool decoupled, bool amsgrad) {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const int key = (maximize ? 8 : 0) | (coupled ? 4 : 0) | (decoupled ? 2 : 0) | (amsgrad ? 1 : 0);
  switch (key) {
    case 0: return pick<T, false, false, false, false>(avx2);
    case 1: return pick<T, false, false, false, true>(avx2);
    case 2: return pick<T, false, false, true, false>(avx2);
    case 3: return pick<T, false, false, true, true>(avx2);
    case 4: return pick<T, false, true, false, false>(avx2);
    case 5: return pick<T, false, true, false, true>(avx2);
    case 6: return pick<T, false, true, true, false>(avx2);
    case 7: return pick<T, false, true, true, true>(avx2);
    case 8: return pick<T, true, false, false, false>(avx2);
    case 9: return pick<T, true, false, false, true>(avx2);
    case 10: return pick<T, true, false, true, false>(avx2);
    case 11: return pick<T, true, false, true, true>(avx2);
    case 12: return pick<T, true, true, false, false>(avx2);
    case 13: return pick<T, true, true, false, true>(avx2);
    case 14: return pick<T, true, true, true, false>(avx2);
    default: return pick<T, true, true, true, true>(avx2);
  }
}

void check_tensor(const at::Tensor& t, const at::Tensor& like, const char* what, size_t i) {
  const std::string name = std::string(what) + "[" + std::to_string(i) + "]";
  PAIRLOSS_CHECK(t.defined() && t.device().is_cpu() && t.is_contiguous(), name + " must be contiguous CPU memory");
  if (t.scalar_type() != like.scalar_type()) throw_type_error(name + " must have the dtype of params[" + std::to_string(i) + "]");
  PAIRLOSS_CHECK(t.numel() == like.numel(), name + " must have as many elements as params[" + std::to_string(i) + "]");
}

}  // namespace

void adam(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
          const std::vector<at::Tensor>& exp_avgs, const std::vector<at::Tensor>& exp_avg_sqs,
          const std::vector<at::Tensor>& max_exp_avg_sqs, const AdamOptions& o) {
  const size_t n = params.size();
  PAIRLOSS_CHECK(grads.size() == n && exp_avgs.size() == n && exp_avg_sqs.size() == n,
                 "params, grads, expAvgs and expAvgSqs must have one tensor each");
  PAIRLOSS_CHECK(o.amsgrad ? max_exp_avg_sqs.size() == n : max_exp_avg_sqs.empty(),
                 "maxExpAvgSqs must have one tensor per param with amsgrad, none without");
  PAIRLOSS_CHECK(o.step >= 1, "step must be >= 1");
  PAIRLOSS_CHECK(o.lr >= 0 && o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1 && o.eps > 0 && o.weight_decay >= 0,
                 "adam: lr, betas, eps or weight decay out of range");
  std::vector<at::Tensor> written;
  for (size_t i = 0; i < n; ++i) {
    PAIRLOSS_CHECK(params[i].defined() && params[i].device().is_cpu() && params[i].is_contiguous(),
                   "params[" + std::to_string(i) + "] must be contiguous CPU memory");
    if (params[i].scalar_type() != at::kFloat && params[i].scalar_type() != at::kDouble) {
      throw_type_error("params[" + std::to_string(i) + "] must be float32 or float64");
    }
    check_tensor(grads[i], params[i], "grads", i);
    check_tensor(exp_avgs[i], params[i], "expAvgs", i);
    check_tensor(exp_avg_sqs[i], params[i], "expAvgSqs", i);
    if (o.amsgrad) check_tensor(max_exp_avg_sqs[i], params[i], "maxExpAvgSqs", i);
    written.push_back(params[i]);
    written.push_back(exp_avgs[i]);
    written.push_back(exp_avg_sqs[i]);
    if (o.amsgrad) written.push_back(max_exp_avg_sqs[i]);
  }
  // what is written shares memory with nothing else read or written
  for (size_t a = 0; a < written.size(); ++a) {
    for (size_t b = a + 1; b < written.size(); ++b) {
      PAIRLOSS_CHECK(!memory_overlaps(written[a], written[b]), "adam: two of the tensors it writes share memory");
    }
    for (const at::Tensor& g : grads) PAIRLOSS_CHECK(!memory_overlaps(written[a], g), "adam: a gradient shares memory with a tensor it writes");
  }
  for (size_t i = 0; i < n; ++i) {
    AT_DISPATCH_FLOATING_TYPES(params[i].scalar_type(), "pairloss_adam", [&] {
      const AdamScalars<scalar_t> s = scalars<scalar_t>(o);
      const AdamArgs<scalar_t> args{params[i].data_ptr<scalar_t>(), grads[i].data_ptr<scalar_t>(),
                                    exp_avgs[i].data_ptr<scalar_t>(), exp_avg_sqs[i].data_ptr<scalar_t>(),
                                    o.amsgrad ? max_exp_avg_sqs[i].data_ptr<scalar_t>() : nullptr};
      const AdamKernel<scalar_t> kernel = adam_kernel<scalar_t>(o.maximize, s.coupled_decay, s.decoupled_decay, o.amsgrad);
      at::parallel_for(0, params[i].numel(), grain(8), [&](int64_t begin, int64_t end) { kernel(args, s, begin, end); });
    });
  }
}

}  // namespace pairloss
