// Runs a computation on the libuv pool and settles a Promise with it. The
// inputs are owned by the closure (lib/ hands async calls copies), so nothing
// the caller does afterwards can reach the worker's memory. On a CUDA device
// the computation runs with that device current on the pool thread, and
// Execute waits there for the device's stream: the Promise settles only once
// the results are complete, and the event loop never waits on the GPU.
#pragma once

#include <napi.h>

#include <functional>

#include "common.h"
#include "device.h"

namespace pairloss_binding {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Finish = std::function<Napi::Value(Napi::Env)>;

  // Queues the worker and returns its Promise. `device`: where `work` computes.
  static Napi::Promise Start(Napi::Env env, Work work, Finish finish, at::Device device = at::kCPU) {
    auto* worker = new PromiseWorker(env, std::move(work), std::move(finish), device);
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      pairloss::run_on_device(device_, work_);
    } catch (...) {
      error_.capture();
      SetError(error_.message);
    }
  }

  void OnOK() override { settle_promise(Env(), deferred_, finish_); }

  void OnError(const Napi::Error&) override { reject_promise(Env(), deferred_, error_); }

 private:
  PromiseWorker(Napi::Env env, Work work, Finish finish, at::Device device)
      : Napi::AsyncWorker(env, "pairloss"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        finish_(std::move(finish)),
        device_(device) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Finish finish_;
  at::Device device_;
  CapturedError error_;
};

}  // namespace pairloss_binding
