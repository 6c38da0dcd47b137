// Process groups for JS: a type-tagged External over a pairloss::ProcessGroup.
// Connecting runs on the libuv pool (rank 0 waits there for the others).
// Each collective is queued on the JS thread, in call order, to the group's
// own thread, which checks, issues and waits for it; the Promise is settled
// back on the JS thread. Nothing here blocks the event loop.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "async_call.h"
#include "call_options.h"
#include "device.h"
#include "handles.h"
#include "marshal.h"
#include "process_group.h"

namespace pairloss_binding {

namespace {

using pairloss::ProcessGroup;

struct GroupHandle {
  std::shared_ptr<ProcessGroup> group;
  bool destroying = false;
};

constexpr napi_type_tag kGroupTag = {0x7061697266726f75ULL, 0x702d68616e646c65ULL};

GroupHandle* handle_from_js(const Napi::Value& value, const char* name) {
  if (!value.IsExternal() || !value.As<Napi::External<GroupHandle>>().CheckTypeTag(&kGroupTag)) {
    throw Napi::TypeError::New(value.Env(), std::string(name) + " must be a ProcessGroup");
  }
  return value.As<Napi::External<GroupHandle>>().Data();
}

// Why calls on this group fail at once, or "" while it is usable.
std::string unusable(const GroupHandle& h) {
  if (h.destroying) return "process group has been destroyed";
  const std::string reason = h.group->unusable_reason();
  return reason.empty() ? reason : "process group " + reason;
}

Napi::Promise rejected(Napi::Env env, const Napi::Error& error) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(error.Value());
  return deferred.Promise();
}

// A call queued to a group's thread (binding/async_call.h), settled on the JS thread.
void settle(Napi::Env env, Napi::Function, void*, AsyncCall* raw) {
  std::unique_ptr<AsyncCall> call(raw);
  if (env == nullptr) return;  // the environment is shutting down
  call->settle(env);
}

using SettleFunction = Napi::TypedThreadSafeFunction<void, AsyncCall, settle>;

}  // namespace

// The group behind a `group` option (for the losses).
std::shared_ptr<ProcessGroup> process_group_from_js(const Napi::Value& value, const char* name) {
  GroupHandle* h = handle_from_js(value, name);
  const std::string reason = unusable(*h);
  if (!reason.empty()) throw Napi::Error::New(value.Env(), reason);
  return h->group;
}

// Queues `work` to the group's thread (after everything queued before it)
// and returns a Promise settled with `finish(env)` or work's error.
Napi::Promise start_group_call(Napi::Env env, const std::shared_ptr<ProcessGroup>& group,
                               std::function<void()> work, std::function<Napi::Value(Napi::Env)> finish) {
  auto* call = new AsyncCall(env, std::move(work), std::move(finish));
  Napi::Promise promise = call->deferred.Promise();
  SettleFunction tsfn = SettleFunction::New(env, "pairloss.processGroup", 0, 1);
  try {
    // The task holds the group, so it outlives every queued call.
    group->submit([group, call, tsfn]() mutable {
      call->run();
      if (tsfn.BlockingCall(call) != napi_ok) delete call;
      tsfn.Release();
    });
  } catch (...) {
    tsfn.Release();
    CapturedError e;
    e.capture();
    call->deferred.Reject(e.to_js(env).Value());
    delete call;
  }
  return promise;
}

namespace {

// processGroupConnect({ backend, rank, worldSize, host, port, agentStore, restartCount, timeoutMs, storePrefix,
//                       checkShapes, cudaDevice }): every key, read by its field list (binding/call_options.h)
Napi::Value Connect(const Napi::CallbackInfo& info) {
  const auto options = read_options<pairloss::ProcessGroupOptions>(info[0], "processGroupConnect", kConnectOptions);
  auto group = std::make_shared<std::shared_ptr<ProcessGroup>>();
  return start_on_pool(
      info.Env(), [options, group] { *group = ProcessGroup::connect(options); },
      [group](Napi::Env env) -> Napi::Value {
        auto external = Napi::External<GroupHandle>::New(env, new GroupHandle{*group},
                                                         [](Napi::Env, GroupHandle* h) { delete h; });
        external.TypeTag(&kGroupTag);
        return external;
      });
}

// processGroupInfo(handle) -> { rank, worldSize, backend, device, pairlossRanks }
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupHandle* h = handle_from_js(info[0], "group");
  Napi::Object out = Napi::Object::New(env);
  out.Set("rank", h->group->rank());
  out.Set("worldSize", h->group->world_size());
  out.Set("backend", pairloss::backend_name(h->group->backend()));
  out.Set("device", h->group->device().str());
  const auto& ranks = h->group->pairloss_ranks();
  Napi::Array list = Napi::Array::New(env, ranks.size());
  for (size_t i = 0; i < ranks.size(); ++i) list.Set(static_cast<uint32_t>(i), ranks[i]);
  out.Set("pairlossRanks", list);
  return out;
}

// processGroupState(handle) -> undefined while usable, else why not
Napi::Value State(const Napi::CallbackInfo& info) {
  GroupHandle* h = handle_from_js(info[0], "group");
  const std::string reason = unusable(*h);
  if (reason.empty()) return info.Env().Undefined();
  return Napi::String::New(info.Env(), reason);
}

// A tensor collective: reject at once on an unusable group, else take the
// input (the call runs later) and queue it. Typed-array input is copied now
// (its memory may change or go before the call runs); a handle's tensor is
// immutable, so it is taken as it is, on its device, without a host round
// trip: its own reference keeps the memory alive if the handle is disposed
// meanwhile. The group copies it to its device (ProcessGroup::prepare) and
// returns the result on the input's device. Results go back the way ops give
// them: a handle for a handle input (results_resident), else host memory.
// `split`: the result's first dimension (the ranks) is handed over as that
// many handles -- for allGather, whose typed-array result lib/ slices itself.
template <typename Op>
Napi::Value tensor_call(const Napi::CallbackInfo& info, Op op, bool split = false) {
  Napi::Env env = info.Env();
  GroupHandle* h = handle_from_js(info[0], "group");
  const std::string reason = unusable(*h);
  if (!reason.empty()) return rejected(env, Napi::Error::New(env, reason));
  at::Tensor input = tensor_from_js(info[1], "tensor");
  const bool resident = results_resident(input.device(), {info[1]});
  if (!is_handle(info[1])) input = input.clone();
  auto group = h->group;
  auto result = std::make_shared<at::Tensor>();
  // On the group's thread with the input's device current, waiting for its
  // stream before the Promise settles (a no-op on CPU).
  return start_group_call(
      env, group,
      [group, input, result, op] {
        pairloss::run_on_device(input.device(), [&] { *result = op(*group, input); });
      },
      [result, resident, split](Napi::Env e) -> Napi::Value {
        at::Tensor out = std::move(*result);
        if (!resident || !split) return result_to_js(e, std::move(out), resident);
        std::vector<at::Tensor> parts = out.unbind(0);
        out = at::Tensor();
        Napi::Array list = Napi::Array::New(e, parts.size());
        for (size_t i = 0; i < parts.size(); ++i) list.Set(static_cast<uint32_t>(i), handle_to_js(e, parts[i]));
        return list;
      });
}

// processGroupAllReduce(handle, tensor, op) -> Promise<tensor> (a handle for a handle input)
Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  const auto op = pairloss::parse_reduce_op(info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "sum");
  return tensor_call(info, [op](ProcessGroup& g, const at::Tensor& t) { return g.all_reduce(t, op); });
}

// processGroupAllGather(handle, tensor) -> Promise<tensor [W, ...shape]>, or
// Promise<handle[]> (W handles of `shape`) for a handle input
Napi::Value AllGather(const Napi::CallbackInfo& info) {
  return tensor_call(info, [](ProcessGroup& g, const at::Tensor& t) { return g.all_gather(t); }, /*split=*/true);
}

// processGroupBroadcast(handle, tensor, src) -> Promise<tensor>
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  if (!info[2].IsNumber()) throw Napi::TypeError::New(info.Env(), "src must be a rank number");
  const int src = info[2].As<Napi::Number>().Int32Value();
  return tensor_call(info, [src](ProcessGroup& g, const at::Tensor& t) { return g.broadcast(t, src); });
}

// processGroupBarrier(handle) -> Promise<undefined>
Napi::Value Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupHandle* h = handle_from_js(info[0], "group");
  const std::string reason = unusable(*h);
  if (!reason.empty()) return rejected(env, Napi::Error::New(env, reason));
  auto group = h->group;
  return start_group_call(
      env, group, [group] { group->barrier(); }, [](Napi::Env e) -> Napi::Value { return e.Undefined(); });
}

// processGroupReject(handle, label, reason) -> Promise<undefined>: in place of
// the collective `label`, whose arguments this rank refused (reason: "RangeError: ...").
Napi::Value Reject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupHandle* h = handle_from_js(info[0], "group");
  if (!unusable(*h).empty()) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  auto group = h->group;
  const std::string label = info[1].As<Napi::String>().Utf8Value();
  const std::string reason = info[2].As<Napi::String>().Utf8Value();
  return start_group_call(
      env, group, [group, label, reason] { group->reject(label, reason); },
      [](Napi::Env e) -> Napi::Value { return e.Undefined(); });
}

// processGroupDestroy(handle) -> Promise<undefined>: after the calls queued
// before it; every later call rejects at once.
Napi::Value Destroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupHandle* h = handle_from_js(info[0], "group");
  auto group = h->group;
  if (h->destroying) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  h->destroying = true;
  return start_group_call(
      env, group, [group] { group->destroy(); }, [](Napi::Env e) -> Napi::Value { return e.Undefined(); });
}

}  // namespace

void init_process_group(Napi::Env env, Napi::Object exports) {
  exports.Set("processGroupConnect", Napi::Function::New<guarded<Connect>>(env, "processGroupConnect"));
  exports.Set("processGroupInfo", Napi::Function::New<guarded<Info>>(env, "processGroupInfo"));
  exports.Set("processGroupState", Napi::Function::New<guarded<State>>(env, "processGroupState"));
  exports.Set("processGroupAllReduce", Napi::Function::New<guarded<AllReduce>>(env, "processGroupAllReduce"));
  exports.Set("processGroupAllGather", Napi::Function::New<guarded<AllGather>>(env, "processGroupAllGather"));
  exports.Set("processGroupBroadcast", Napi::Function::New<guarded<Broadcast>>(env, "processGroupBroadcast"));
  exports.Set("processGroupBarrier", Napi::Function::New<guarded<Barrier>>(env, "processGroupBarrier"));
  exports.Set("processGroupReject", Napi::Function::New<guarded<Reject>>(env, "processGroupReject"));
  exports.Set("processGroupDestroy", Napi::Function::New<guarded<Destroy>>(env, "processGroupDestroy"));
}

}  // namespace pairloss_binding
