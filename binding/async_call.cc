#include "async_call.h"

#include <atomic>

namespace pairloss_binding {

AsyncCall::AsyncCall(Napi::Env env, Work w, Finish f)
    : deferred(Napi::Promise::Deferred::New(env)), work(std::move(w)), finish(std::move(f)) {}

void AsyncCall::run() noexcept {
  try {
    work();
  } catch (...) {
    error.capture();
  }
}

void AsyncCall::settle(Napi::Env env) noexcept {
  try {
    Napi::HandleScope scope(env);
    if (error) {
      deferred.Reject(error.to_js(env).Value());
      return;
    }
    try {
      deferred.Resolve(finish(env));
    } catch (const Napi::Error& e) {
      deferred.Reject(e.Value());
    } catch (...) {
      CapturedError e;
      e.capture();
      deferred.Reject(e.to_js(env).Value());
    }
  } catch (...) {
    // The environment is going away: nobody is left to see the result.
  }
}

namespace {

std::atomic<int64_t> pool_pending{0};
std::atomic<int64_t> pool_running{0};
std::atomic<int64_t> pool_finished{0};

// napi async work around one AsyncCall: Execute on a pool thread, OnOK back
// on the JS thread (the call's own error, if any, is settled there too).
class PoolWork : public Napi::AsyncWorker {
 public:
  PoolWork(Napi::Env env, std::unique_ptr<AsyncCall> call) : Napi::AsyncWorker(env, "pairloss"), call_(std::move(call)) {}

 protected:
  void Execute() override {
    ++pool_running;
    call_->run();
    --pool_running;
    ++pool_finished;
    --pool_pending;
  }
  void OnOK() override { call_->settle(Env()); }

 private:
  std::unique_ptr<AsyncCall> call_;
};

}  // namespace

Napi::Promise start_on_pool(Napi::Env env, AsyncCall::Work work, AsyncCall::Finish finish) {
  auto call = std::make_unique<AsyncCall>(env, std::move(work), std::move(finish));
  Napi::Promise promise = call->deferred.Promise();
  ++pool_pending;
  (new PoolWork(env, std::move(call)))->Queue();  // deletes itself after OnOK
  return promise;
}

PoolCounts pool_counts() {
  PoolCounts c;
  c.pending = pool_pending.load();
  c.running = pool_running.load();
  c.finished = pool_finished.load();
  return c;
}

}  // namespace pairloss_binding
