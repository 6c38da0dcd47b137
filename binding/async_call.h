// One async call, whichever thread computes it: a Promise, the work (run off
// the JS thread, never touching JS values), the completion that makes the
// JS result (on the JS thread), and the error the work threw. The libuv pool
// (start_on_pool) and a process group's own thread (start_group_call in
// binding/process_group.cc) both run calls of this shape.
//
// The inputs are owned by the work's closure (async calls copy typed-array
// inputs when they are made), so nothing the caller does afterwards can
// reach the computation's memory.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>

#include "js_errors.h"

namespace pairloss_binding {

struct AsyncCall {
  using Work = std::function<void()>;
  using Finish = std::function<Napi::Value(Napi::Env)>;

  AsyncCall(Napi::Env env, Work work, Finish finish);

  // Off the JS thread: runs the work, keeping what it throws.
  void run() noexcept;
  // On the JS thread: resolves the Promise with finish(env), or rejects it
  // with the work's error or finish's. Never throws: an exception escaping
  // from a completion callback terminates the process (as when a worker
  // thread's environment is shutting down and every N-API call fails).
  void settle(Napi::Env env) noexcept;

  Napi::Promise::Deferred deferred;
  Work work;
  Finish finish;
  CapturedError error;
};

// Queues the call on the libuv pool (napi async work) and returns its
// Promise. A computation on a CUDA device wraps itself in
// pairloss::run_on_device, which waits there for the device's stream: the
// Promise settles only once the results are complete, and the event loop
// never waits on the GPU.
Napi::Promise start_on_pool(Napi::Env env, AsyncCall::Work work, AsyncCall::Finish finish);

// For tests, process-wide: pool calls handed to libuv whose work has not
// finished (queued or computing), those computing now, and those finished.
struct PoolCounts {
  int64_t pending = 0;
  int64_t running = 0;
  int64_t finished = 0;
};
PoolCounts pool_counts();

}  // namespace pairloss_binding
