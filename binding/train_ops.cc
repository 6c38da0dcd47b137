// The operations of a training step: matmul (transpose flags, `out`),
// csrCreate / sparseMatmul (a CSR batch checked once, owned natively),
// csrIndexSelect (rows of one gathered natively, into a reused `out`) and
// adam (many tensors updated in place in one call). Each entry reads its
// arguments, then runs now (sync, on the JS thread) or on the libuv pool
// (async: the inputs copied when the call is made, results copied into the
// caller's memory on the JS thread when it is done). lib/ checks every
// argument first and runs small async calls inline, as sync calls.
#include <memory>
#include <utility>
#include <vector>

#include "async_call.h"
#include "call_options.h"
#include "device.h"
#include "errors.h"
#include "exports.h"
#include "handles.h"
#include "js_errors.h"
#include "marshal.h"
#include "ops.h"
#include "optim.h"
#include "sparse.h"

namespace pairloss_binding {

namespace {

bool async_arg(const Napi::CallbackInfo& info, size_t index) {
  return info.Length() > index && info[index].ToBoolean().Value();
}

// JS memory an async call writes into when it is done (on the JS thread):
// the caller's { data, shape }, held by a reference until then.
using JsTarget = std::shared_ptr<Napi::ObjectReference>;

JsTarget js_target(const Napi::Value& value) {
  return std::make_shared<Napi::ObjectReference>(Napi::Persistent(value.As<Napi::Object>()));
}

// Copies `result` into the target's memory, read again now: it may have been
// detached (transferred) while the call ran.
void write_back(const JsTarget& target, const at::Tensor& result, const char* name) {
  at::Tensor dst = tensor_from_js(target->Value(), name);
  PAIRLOSS_CHECK(dst.numel() == result.numel() && dst.scalar_type() == result.scalar_type(),
                 std::string(name) + " changed size or dtype while the call ran");
  if (dst.numel() > 0) dst.view(result.sizes()).copy_(result);
}

// A product with an optional `out` ({ data, shape } over the caller's
// memory, or null): sync, `compute(out)` writes there (undefined is
// returned: lib makes the tensor over out); async, `compute({})` makes a new
// tensor on the pool, copied into out when done. Without out, the result.
template <typename Compute>
Napi::Value run_product(Napi::Env env, bool async, const Napi::Value& out, bool resident, const at::Device& device,
                        Compute compute) {
  if (!async) {
    const at::Tensor target = out.IsNull() ? at::Tensor() : tensor_from_js(out, "out");
    at::Tensor result;
    pairloss::run_on_device(device, [&] { result = compute(target); }, false);
    return target.defined() ? env.Undefined() : result_to_js(env, result, resident);
  }
  auto result = std::make_shared<at::Tensor>();
  const JsTarget target = out.IsNull() ? nullptr : js_target(out);
  AsyncCall::Work work = [result, compute, device] {
    pairloss::run_on_device(device, [&] { *result = compute(at::Tensor()); });
  };
  AsyncCall::Finish finish = [result, target, resident](Napi::Env e) -> Napi::Value {
    if (!target) return result_to_js(e, *result, resident);
    write_back(target, *result, "out");
    return e.Undefined();
  };
  return start_on_pool(env, std::move(work), std::move(finish));
}

// ---------- CSR matrices held natively ----------

constexpr napi_type_tag kCsrTag = {0x7061697263737220ULL, 0x6d61747269782d68ULL};

// A CsrTensor's native half. `csr` is shared with every pending async call
// that reads it (a copy of the shared_ptr each): while one is, its use_count
// is above 1 and csrIndexSelect refuses to refill it. `bytes`: what was
// reported to V8 as external memory (the tensors' storage).
struct CsrHolder {
  std::shared_ptr<pairloss::CsrMatrix> csr;
  int64_t bytes = 0;
};

// An index array (Int32Array | BigInt64Array) copied into memory of its own.
at::Tensor index_copy(const Napi::Value& value, const char* name) {
  at::Tensor t = indices_from_js(value, name);  // Int32Array: a widened copy already
  return value.As<Napi::TypedArray>().TypedArrayType() == napi_bigint64_array ? t.clone() : t;
}

// The CSR matrix of { indptr, indices, values, shape: [rows, cols] }: each
// array copied first, then the copies checked, so that memory the caller
// shares with other threads (a SharedArrayBuffer) is read exactly once.
std::shared_ptr<pairloss::CsrMatrix> csr_from_parts(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) type_error(env, "csr must be a CSR matrix { indptr, indices, values, shape }");
  const Napi::Object o = value.As<Napi::Object>();
  const Napi::Value values = o.Get("values");
  if (!values.IsTypedArray()) type_error(env, "csr.values must be a Float32Array or Float64Array");
  Napi::Object raw = Napi::Object::New(env);
  raw.Set("data", values);
  Napi::Array length = Napi::Array::New(env, 1);
  length.Set(0u, Napi::Number::New(env, static_cast<double>(values.As<Napi::TypedArray>().ElementLength())));
  raw.Set("shape", length);
  at::Tensor v = tensor_from_js(raw, "csr.values").clone();
  at::Tensor indptr = index_copy(o.Get("indptr"), "csr.indptr");
  at::Tensor indices = index_copy(o.Get("indices"), "csr.indices");
  const Napi::Value shape = o.Get("shape");
  if (!shape.IsArray() || shape.As<Napi::Array>().Length() != 2) type_error(env, "csr.shape must be [rows, cols]");
  const double rows = shape.As<Napi::Array>().Get(0u).ToNumber().DoubleValue();
  const double cols = shape.As<Napi::Array>().Get(1u).ToNumber().DoubleValue();
  if (!(rows >= 0 && cols >= 0 && rows < 9007199254740992.0 && cols < 9007199254740992.0)) {
    range_error(env, "csr.shape must be two sizes >= 0");
  }
  return pairloss::csr_matrix(indptr, indices, v, static_cast<int64_t>(rows), static_cast<int64_t>(cols));
}

// The holder of a CsrTensor (our tagged External), or null for another value.
CsrHolder* csr_holder(const Napi::Value& value) {
  if (!value.IsExternal()) return nullptr;
  auto external = value.As<Napi::External<CsrHolder>>();
  return external.CheckTypeTag(&kCsrTag) ? external.Data() : nullptr;
}

// A CsrTensor's native matrix (our tagged External), or a plain CSR object built now.
std::shared_ptr<const pairloss::CsrMatrix> csr_from_js(const Napi::Value& value) {
  if (value.IsExternal()) {
    CsrHolder* holder = csr_holder(value);
    if (holder == nullptr) type_error(value.Env(), "csr must be a CsrTensor or a CSR object");
    return holder->csr;
  }
  return csr_from_parts(value);
}

// A tagged External owning `csr`, its storage reported to V8 as external memory.
Napi::Value csr_to_js(Napi::Env env, std::shared_ptr<pairloss::CsrMatrix> csr) {
  auto holder = std::make_unique<CsrHolder>();
  holder->csr = std::move(csr);
  holder->bytes = pairloss::csr_storage_bytes(*holder->csr);
  const int64_t bytes = holder->bytes;
  auto external = Napi::External<CsrHolder>::New(env, holder.get(), [](Napi::Env e, CsrHolder* h) {
    int64_t ignored = 0;
    napi_adjust_external_memory(e, -h->bytes, &ignored);
    delete h;
  });
  holder.release();
  external.TypeTag(&kCsrTag);
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  return external;
}

// Tensors of a JS array (params, grads, ...): views, or copies when `copy`.
std::vector<at::Tensor> tensor_list(const Napi::Value& value, const char* name, bool copy) {
  std::vector<at::Tensor> out;
  if (value.IsNull()) return out;
  if (!value.IsArray()) type_error(value.Env(), std::string(name) + " must be an array of tensors");
  const Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const Napi::Value item = array.Get(i);
    const std::string label = std::string(name) + "[" + std::to_string(i) + "]";
    out.push_back(placed(item, tensor_from_js(item, label.c_str()), at::kCPU, copy));
  }
  return out;
}

}  // namespace

// matmul(a, b, { transposeA, transposeB, out, device }, async)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  const bool async = async_arg(info, 3);
  const auto o = read_options<MatmulOptions>(info[2], "matmul", kMatmulOptions);
  const at::Tensor a = placed(info[0], tensor_from_js(info[0], "a"), o.device, async);
  const at::Tensor b = placed(info[1], tensor_from_js(info[1], "b"), o.device, async);
  const bool ta = o.transpose_a, tb = o.transpose_b;
  return run_product(info.Env(), async, o.out, results_resident(o.device, {info[0], info[1]}), o.device,
                     [a, b, ta, tb](const at::Tensor& out) { return pairloss::matmul(a, b, ta, tb, out); });
}

// csrCreate({ indptr, indices, values, shape }) -> a tagged External owning the
// checked copy, for lib's CsrTensor.
Napi::Value CsrCreate(const Napi::CallbackInfo& info) { return csr_to_js(info.Env(), csr_from_parts(info[0])); }

// csrIndexSelect(csr, rows, { out }) -> { csr, nnz }: rows (an Int32Array,
// copied first, then checked by src) of a CsrTensor, into a new one, or into
// `out`'s memory (refilled in place; refused while a pending async call
// holds it) and then `csr` is out itself.
Napi::Value CsrIndexSelect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto o = read_options<CsrIndexSelectOptions>(info[2], "csrIndexSelect", kCsrIndexSelectOptions);
  const CsrHolder* src = csr_holder(info[0]);
  if (src == nullptr) type_error(env, "csr must be a CsrTensor");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    type_error(env, "rows must be an Int32Array");
  }
  const at::Tensor rows = indices_from_js(info[1], "rows");  // a copy (int64): read once
  Napi::Value result_csr;
  if (o.out.IsNull()) {
    result_csr = csr_to_js(env, pairloss::csr_index_select(*src->csr, rows));
  } else {
    CsrHolder* out = csr_holder(o.out);
    if (out == nullptr) type_error(env, "out must be a CsrTensor");
    if (out == src) range_error(env, "out must not be csr itself");
    // our reference alone: no async call in flight reads it
    if (out->csr.use_count() != 1) range_error(env, "out is in use by a pending async call (e.g. sparseMatmulAsync); await it first");
    pairloss::csr_index_select_into(*src->csr, rows, *out->csr);
    const int64_t bytes = pairloss::csr_storage_bytes(*out->csr);
    if (bytes != out->bytes) Napi::MemoryManagement::AdjustExternalMemory(env, bytes - out->bytes);
    out->bytes = bytes;
    result_csr = o.out;
  }
  const CsrHolder* result = csr_holder(result_csr);
  Napi::Object r = Napi::Object::New(env);
  r.Set("csr", result_csr);
  r.Set("nnz", Napi::Number::New(env, static_cast<double>(result->csr->nnz())));
  return r;
}

// _csrParts(csr) -> { indptr, indices, values, bytes } (tests): copies of a
// CsrTensor's arrays (the indices as float64), and the bytes of storage it
// holds (its capacity).
Napi::Value CsrParts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CsrHolder* holder = csr_holder(info[0]);
  if (holder == nullptr) type_error(env, "csr must be a CsrTensor");
  const pairloss::CsrMatrix& m = *holder->csr;
  Napi::Object r = Napi::Object::New(env);
  r.Set("indptr", tensor_to_js(env, m.indptr.to(at::kDouble)));
  r.Set("indices", tensor_to_js(env, m.indices.to(at::kDouble)));
  r.Set("values", tensor_to_js(env, m.values.clone()));
  r.Set("bytes", Napi::Number::New(env, static_cast<double>(holder->bytes)));
  return r;
}

// sparseMatmul(csr, b, { transposeA, out }, async): csr a csrCreate External or a plain CSR object
Napi::Value SparseMatmul(const Napi::CallbackInfo& info) {
  const bool async = async_arg(info, 3);
  const auto o = read_options<SparseMatmulOptions>(info[2], "sparseMatmul", kSparseMatmulOptions);
  const std::shared_ptr<const pairloss::CsrMatrix> csr = csr_from_js(info[0]);
  const at::Tensor b = placed(info[1], tensor_from_js(info[1], "b"), at::kCPU, async);
  const bool ta = o.transpose_a;
  return run_product(info.Env(), async, o.out, results_resident(at::kCPU, {info[1]}), at::kCPU,
                     [csr, b, ta](const at::Tensor& out) { return pairloss::sparse_matmul(*csr, b, ta, out); });
}

// adam(params, grads, expAvgs, expAvgSqs, maxExpAvgSqs | null, options, async) -> undefined,
// every params[i] and moment updated in place. Async: on copies, written back when done.
Napi::Value Adam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool async = async_arg(info, 6);
  const auto o = read_options<pairloss::AdamOptions>(info[5], "adam", kAdamOptions);
  std::vector<at::Tensor> params = tensor_list(info[0], "params", async);
  std::vector<at::Tensor> grads = tensor_list(info[1], "grads", async);
  std::vector<at::Tensor> exp_avgs = tensor_list(info[2], "expAvgs", async);
  std::vector<at::Tensor> exp_avg_sqs = tensor_list(info[3], "expAvgSqs", async);
  std::vector<at::Tensor> max_sqs = tensor_list(info[4], "maxExpAvgSqs", async);
  if (!async) {
    pairloss::adam(params, grads, exp_avgs, exp_avg_sqs, max_sqs, o);
    return env.Undefined();
  }
  // what is written back when done: the caller's typed arrays (handles were updated in place)
  auto targets = std::make_shared<std::vector<std::pair<JsTarget, at::Tensor>>>();
  const auto keep = [&](const Napi::Value& list, const std::vector<at::Tensor>& tensors) {
    if (list.IsNull()) return;
    const Napi::Array array = list.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      if (!is_handle(array.Get(i))) targets->emplace_back(js_target(array.Get(i)), tensors[i]);
    }
  };
  keep(info[0], params);
  keep(info[2], exp_avgs);
  keep(info[3], exp_avg_sqs);
  keep(info[4], max_sqs);
  AsyncCall::Work work = [params, grads, exp_avgs, exp_avg_sqs, max_sqs, o] {
    pairloss::adam(params, grads, exp_avgs, exp_avg_sqs, max_sqs, o);
  };
  AsyncCall::Finish finish = [targets](Napi::Env e) -> Napi::Value {
    // every target read again first (any detached: a RangeError, nothing written), then written
    std::vector<at::Tensor> dst;
    for (const auto& [target, tensor] : *targets) {
      dst.push_back(tensor_from_js(target->Value(), "params and moments"));
      PAIRLOSS_CHECK(dst.back().numel() == tensor.numel(), "a param or moment changed size while the call ran");
    }
    for (size_t i = 0; i < dst.size(); ++i) {
      if (dst[i].numel() > 0) dst[i].view((*targets)[i].second.sizes()).copy_((*targets)[i].second);
    }
    return e.Undefined();
  };
  return start_on_pool(env, std::move(work), std::move(finish));
}

}  // namespace pairloss_binding
