// The torch.nn.functional mirrors: normalize, matmul, crossEntropy,
// batchNorm1d, cosineSimilarity. Synchronous; each returns a new tensor: a
// handle when computed on CUDA (or from a resident CPU input), else a typed
// array over host memory.
#include "common.h"
#include "device.h"
#include "ops.h"
#include "runtime.h"

namespace pairloss_binding {

namespace {

at::Device device_of(const Napi::Object& o) {
  return pairloss::parse_device(get_string(o, "device", "cpu"));
}

// normalize(x, { p, dim, eps, device })
Napi::Value Normalize(const Napi::CallbackInfo& info) {
  Napi::Object o = get_options(info, 1);
  const at::Device device = device_of(o);
  at::Tensor x = pairloss::to_device(tensor_from_js(info[0], "x"), device);
  const double p = get_number(o, "p", 2.0);
  const double dim = get_number(o, "dim", 1.0);
  return result_to_js(info.Env(), pairloss::normalize(x, p, static_cast<int64_t>(dim), get_number(o, "eps", 1e-12)),
                      results_resident(device, {info[0]}));
}

// matmul(a, b, { device })
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Object o = get_options(info, 2);
  const at::Device device = device_of(o);
  at::Tensor a = pairloss::to_device(tensor_from_js(info[0], "a"), device);
  at::Tensor b = pairloss::to_device(tensor_from_js(info[1], "b"), device);
  pairloss::check_matrix(a, "a");
  pairloss::check_matrix(b, "b");
  if (a.scalar_type() != b.scalar_type()) throw Napi::TypeError::New(info.Env(), "b must have the dtype of a");
  if (a.size(1) != b.size(0)) {
    throw Napi::RangeError::New(info.Env(), "matmul needs a's columns to equal b's rows, got a [" +
                                                std::to_string(a.size(0)) + ", " + std::to_string(a.size(1)) +
                                                "] and b [" + std::to_string(b.size(0)) + ", " +
                                                std::to_string(b.size(1)) + "]");
  }
  return result_to_js(info.Env(), at::matmul(a, b), results_resident(device, {info[0], info[1]}));
}

// crossEntropy(logits, target, { reduction, labelSmoothing, device })
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  Napi::Object o = get_options(info, 2);
  const at::Device device = device_of(o);
  at::Tensor logits = pairloss::to_device(tensor_from_js(info[0], "logits"), device);
  at::Tensor target = info[1].IsTypedArray() ? indices_from_js(info[1], "target") : tensor_from_js(info[1], "target");
  if (at::isFloatingType(target.scalar_type()) && target.scalar_type() != logits.scalar_type()) {
    throw Napi::TypeError::New(info.Env(), "target probabilities must have the dtype of logits");
  }
  auto reduction = pairloss::parse_reduction(get_string(o, "reduction", "mean"));
  return result_to_js(info.Env(),
                      pairloss::cross_entropy(logits, pairloss::to_device(target, device), reduction,
                                              get_number(o, "labelSmoothing", 0.0)),
                      results_resident(device, {info[0], info[1]}));
}

// batchNorm1d(x, { eps, device })
Napi::Value BatchNorm1d(const Napi::CallbackInfo& info) {
  Napi::Object o = get_options(info, 1);
  const at::Device device = device_of(o);
  at::Tensor x = pairloss::to_device(tensor_from_js(info[0], "x"), device);
  return result_to_js(info.Env(), pairloss::batch_norm1d(x, get_number(o, "eps", 1e-5)),
                      results_resident(device, {info[0]}));
}

// cosineSimilarity(x1, x2, { eps, device })
Napi::Value CosineSimilarity(const Napi::CallbackInfo& info) {
  Napi::Object o = get_options(info, 2);
  const at::Device device = device_of(o);
  at::Tensor x1 = pairloss::to_device(tensor_from_js(info[0], "x1"), device);
  at::Tensor x2 = pairloss::to_device(tensor_from_js(info[1], "x2"), device);
  if (x1.scalar_type() != x2.scalar_type()) throw Napi::TypeError::New(info.Env(), "x2 must have the dtype of x1");
  return result_to_js(info.Env(), pairloss::cosine_similarity_matrix(x1, x2, get_number(o, "eps", 1e-12)),
                      results_resident(device, {info[0], info[1]}));
}

}  // namespace

void init_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("normalize", Napi::Function::New<guarded<Normalize>>(env, "normalize"));
  exports.Set("matmul", Napi::Function::New<guarded<Matmul>>(env, "matmul"));
  exports.Set("crossEntropy", Napi::Function::New<guarded<CrossEntropy>>(env, "crossEntropy"));
  exports.Set("batchNorm1d", Napi::Function::New<guarded<BatchNorm1d>>(env, "batchNorm1d"));
  exports.Set("cosineSimilarity", Napi::Function::New<guarded<CosineSimilarity>>(env, "cosineSimilarity"));
}

}  // namespace pairloss_binding
