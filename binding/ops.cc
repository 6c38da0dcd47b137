// The torch.nn.functional mirrors: normalize, crossEntropy,
// batchNorm1d, cosineSimilarity (matmul: binding/train_ops.cc). Synchronous; each returns a new tensor: a
// handle when computed on CUDA (or from a resident CPU input), else a typed
// array over host memory. lib/ops.ts has checked the arguments.
#include "call_options.h"
#include "device.h"
#include "exports.h"
#include "handles.h"
#include "marshal.h"
#include "ops.h"

namespace pairloss_binding {

namespace {

// info[index] as a tensor on `device`.
at::Tensor input(const Napi::CallbackInfo& info, size_t index, const char* name, const at::Device& device) {
  return pairloss::to_device(tensor_from_js(info[index], name), device);
}

}  // namespace

// normalize(x, { p, dim, eps, device })
Napi::Value Normalize(const Napi::CallbackInfo& info) {
  const auto o = read_options<NormalizeOptions>(info[1], "normalize", kNormalizeOptions);
  at::Tensor x = input(info, 0, "x", o.device);
  return result_to_js(info.Env(), pairloss::normalize(x, o.p, o.dim, o.eps), results_resident(o.device, {info[0]}));
}

// crossEntropy(logits, target, { reduction, labelSmoothing, device })
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  const auto o = read_options<CrossEntropyOptions>(info[2], "crossEntropy", kCrossEntropyOptions);
  at::Tensor logits = input(info, 0, "logits", o.device);
  at::Tensor target = info[1].IsTypedArray() ? indices_from_js(info[1], "target") : tensor_from_js(info[1], "target");
  return result_to_js(info.Env(),
                      pairloss::cross_entropy(logits, pairloss::to_device(target, o.device), o.reduction, o.label_smoothing),
                      results_resident(o.device, {info[0], info[1]}));
}

// batchNorm1d(x, { eps, device })
Napi::Value BatchNorm1d(const Napi::CallbackInfo& info) {
  const auto o = read_options<EpsOptions>(info[1], "batchNorm1d", kEpsOptions);
  at::Tensor x = input(info, 0, "x", o.device);
  return result_to_js(info.Env(), pairloss::batch_norm1d(x, o.eps), results_resident(o.device, {info[0]}));
}

// cosineSimilarity(x1, x2, { eps, device })
Napi::Value CosineSimilarity(const Napi::CallbackInfo& info) {
  const auto o = read_options<EpsOptions>(info[2], "cosineSimilarity", kEpsOptions);
  at::Tensor x1 = input(info, 0, "x1", o.device);
  at::Tensor x2 = input(info, 1, "x2", o.device);
  return result_to_js(info.Env(), pairloss::cosine_similarity_matrix(x1, x2, o.eps), results_resident(o.device, {info[0], info[1]}));
}

}  // namespace pairloss_binding
