// Each native function's options as the binding reads them: the C++ half of
// lib/options.ts's NATIVE_OPTION_KEYS (every key read here, and no other;
// see binding/options.h). Values arrive checked by lib/: nothing here checks
// them again, beyond their types and the enum names it parses.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <memory>

#include "barlow_twins.h"
#include "npairs.h"
#include "nt_xent.h"
#include "siglip.h"
#include "vicreg.h"
#include "ops.h"
#include "optim.h"
#include "options.h"

namespace pairloss_binding {

// normalize: { p, dim, eps, device }
struct NormalizeOptions {
  double p;
  int64_t dim;
  double eps;
  at::Device device = at::kCPU;
};
NormalizeOptions read_normalize_options(const Napi::Value& value);

// matmul: { transposeA, transposeB, out, device }; `out` (null: none) is
// the JS value ({ data, shape } over the caller's memory), read by the call.
struct MatmulOptions {
  bool transpose_a = false;
  bool transpose_b = false;
  Napi::Value out;
  at::Device device = at::kCPU;
};
MatmulOptions read_matmul_options(const Napi::Value& value);

// sparseMatmul: { transposeA, out } (CPU only)
struct SparseMatmulOptions {
  bool transpose_a = false;
  Napi::Value out;
};
SparseMatmulOptions read_sparse_matmul_options(const Napi::Value& value);

// adam: { step, lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay, amsgrad, maximize }
pairloss::AdamOptions read_adam_options(const Napi::Value& value);

// crossEntropy: { reduction, labelSmoothing, device }
struct CrossEntropyOptions {
  pairloss::Reduction reduction;
  double label_smoothing;
  at::Device device = at::kCPU;
};
CrossEntropyOptions read_cross_entropy_options(const Napi::Value& value);

// batchNorm1d and cosineSimilarity: { eps, device }
struct EpsOptions {
  double eps;
  at::Device device = at::kCPU;
};
EpsOptions read_eps_options(const Napi::Value& value, const char* function);

// A loss's `out` option: null, or { grad1, grad2 }, each null or a
// { data, shape } over caller memory (lib/out.ts has checked the sizes, the
// dtype and that nothing overlaps). `grad1`/`grad2` keep the JS values.
struct GradOut {
  Napi::Value grad1, grad2;
  at::Tensor t1, t2;  // CPU views of the caller's memory (undefined: not given)
};
GradOut read_grad_out(OptionReader& o);

// npairsLoss: { target, temperature, symmetric, labelSmoothing, reduction,
// similarity, l2Reg, eps, grad, returnSimilarity, checkFinite, device, group,
// localLoss, gatherWithGrad, labels, excludeSelf, out }. The target (null: none) is placed on `device`,
// and copied when `copy` (an async call owns what it reads); `target` keeps
// the JS value, for results_resident.
struct NpairsArgs {
  pairloss::NpairsOptions options;
  at::Device device = at::kCPU;
  Napi::Value target;
  GradOut out;
};
NpairsArgs read_npairs_options(const Napi::Value& value, bool copy);

// sigmoidLoss: { scale, bias, target, eps, grad, checkFinite, device, group, out };
// target (null: SigLIP's diagonal labels) placed as npairsLoss's.
struct SigmoidArgs {
  pairloss::SigmoidOptions options;
  at::Device device = at::kCPU;
  Napi::Value target;
  GradOut out;
};
SigmoidArgs read_sigmoid_options(const Napi::Value& value, bool copy);

// vicregLoss: { invarianceWeight, varianceWeight, covarianceWeight, gamma,
// eps, grad, checkFinite, device, group, out }
struct VicregArgs {
  pairloss::VicregOptions options;
  at::Device device = at::kCPU;
  GradOut out;
};
VicregArgs read_vicreg_options(const Napi::Value& value);

// ntXentLoss: { temperature, eps, negatives, grad, checkFinite, device, group, out };
// negatives (null: none) placed as npairsLoss's target; `negatives` keeps the
// JS value, for results_resident.
struct NtXentArgs {
  pairloss::NtXentOptions options;
  at::Device device = at::kCPU;
  Napi::Value negatives;
  GradOut out;
};
NtXentArgs read_nt_xent_options(const Napi::Value& value, bool copy);

// correlationLoss: { lambda, scale, eps, mode, grad, checkFinite, device,
// group, syncBatchNorm, out }
struct CorrelationArgs {
  pairloss::CorrelationOptions options;
  at::Device device = at::kCPU;
  GradOut out;
};
CorrelationArgs read_correlation_options(const Napi::Value& value);

// `t` (read from `value`) on `device`. An async call (`copy`) owns what it
// reads: a view over a typed array is copied (JS may write to it later); a
// handle's tensor is not (JS cannot write to it, and the alias keeps it alive
// even if the handle is disposed while the call runs).
at::Tensor placed(const Napi::Value& value, at::Tensor t, const at::Device& device, bool copy);

}  // namespace pairloss_binding
