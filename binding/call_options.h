// The options of the native functions other than the losses (theirs:
// binding/loss_specs.h) and of processGroupConnect: each struct with its
// field list (binding/fields.h), the C++ half of lib/options.ts's
// NATIVE_OPTION_KEYS, checked against it at compile time. Values arrive
// checked by lib/: nothing here checks them again, beyond their types and
// the enum names it parses. Read with read_options<S>(value, name, list);
// the defaults are lib's (every key is sent), except src's where a struct is src's.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include "fields.h"
#include "ops.h"
#include "optim.h"
#include "process_group.h"

namespace pairloss_binding {

// normalize
struct NormalizeOptions {
  double p;
  int64_t dim;
  double eps;
  at::Device device = at::kCPU;
};
inline constexpr auto kNormalizeOptions =
    fields(field("p", &NormalizeOptions::p), field("dim", &NormalizeOptions::dim), field("eps", &NormalizeOptions::eps),
           field("device", &NormalizeOptions::device));
static_assert(same_keys(kNormalizeOptions, native_keys::normalize));

// matmul: `out` (null: none) is the JS value ({ data, shape } over the
// caller's memory), read by the call.
struct MatmulOptions {
  bool transpose_a = false;
  bool transpose_b = false;
  Napi::Value out;
  at::Device device = at::kCPU;
};
inline constexpr auto kMatmulOptions =
    fields(field("transposeA", &MatmulOptions::transpose_a), field("transposeB", &MatmulOptions::transpose_b),
           field("out", &MatmulOptions::out), field("device", &MatmulOptions::device));
static_assert(same_keys(kMatmulOptions, native_keys::matmul));

// sparseMatmul (CPU only)
struct SparseMatmulOptions {
  bool transpose_a = false;
  Napi::Value out;
};
inline constexpr auto kSparseMatmulOptions =
    fields(field("transposeA", &SparseMatmulOptions::transpose_a), field("out", &SparseMatmulOptions::out));
static_assert(same_keys(kSparseMatmulOptions, native_keys::sparseMatmul));

// csrIndexSelect: `out` a CsrTensor's External (null: a new one), checked by the call
struct CsrIndexSelectOptions {
  Napi::Value out;
};
inline constexpr auto kCsrIndexSelectOptions = fields(field("out", &CsrIndexSelectOptions::out));
static_assert(same_keys(kCsrIndexSelectOptions, native_keys::csrIndexSelect));

// adam: src's options as they are
using pairloss::AdamOptions;
inline constexpr auto kAdamOptions =
    fields(field("step", &AdamOptions::step), field("lr", &AdamOptions::lr), field("beta1", &AdamOptions::beta1),
           field("beta2", &AdamOptions::beta2), field("eps", &AdamOptions::eps),
           field("weightDecay", &AdamOptions::weight_decay),
           field("decoupledWeightDecay", &AdamOptions::decoupled_weight_decay),
           field("amsgrad", &AdamOptions::amsgrad), field("maximize", &AdamOptions::maximize));
static_assert(same_keys(kAdamOptions, native_keys::adam));

// crossEntropy
struct CrossEntropyOptions {
  pairloss::Reduction reduction;
  double label_smoothing;
  at::Device device = at::kCPU;
};
inline constexpr auto kCrossEntropyOptions =
    fields(field("reduction", &CrossEntropyOptions::reduction),
           field("labelSmoothing", &CrossEntropyOptions::label_smoothing), field("device", &CrossEntropyOptions::device));
static_assert(same_keys(kCrossEntropyOptions, native_keys::crossEntropy));

// batchNorm1d and cosineSimilarity
struct EpsOptions {
  double eps;
  at::Device device = at::kCPU;
};
inline constexpr auto kEpsOptions = fields(field("eps", &EpsOptions::eps), field("device", &EpsOptions::device));
static_assert(same_keys(kEpsOptions, native_keys::batchNorm1d));
static_assert(same_keys(kEpsOptions, native_keys::cosineSimilarity));

// processGroupConnect: src's options as they are; cudaDevice null: -1 (rank % device count)
using pairloss::ProcessGroupOptions;
inline constexpr auto kConnectOptions =
    fields(field("backend", &ProcessGroupOptions::backend), field("rank", &ProcessGroupOptions::rank),
           field("worldSize", &ProcessGroupOptions::world_size), field("host", &ProcessGroupOptions::host),
           field("port", &ProcessGroupOptions::port), field("agentStore", &ProcessGroupOptions::agent_store),
           field("restartCount", &ProcessGroupOptions::restart_count),
           field("timeoutMs", &ProcessGroupOptions::timeout), field("storePrefix", &ProcessGroupOptions::store_prefix),
           field("checkShapes", &ProcessGroupOptions::check_shapes),
           field("cudaDevice", &ProcessGroupOptions::cuda_device, kNullIsDefault));
static_assert(same_keys(kConnectOptions, native_keys::processGroupConnect));

// `t` (read from `value`) on `device`. An async call (`copy`) owns what it
// reads: a view over a typed array is copied (JS may write to it later); a
// handle's tensor is not (JS cannot write to it, and the alias keeps it alive
// even if the handle is disposed while the call runs).
at::Tensor placed(const Napi::Value& value, at::Tensor t, const at::Device& device, bool copy);

}  // namespace pairloss_binding
