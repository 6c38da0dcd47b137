#include "affine.h"

#if PAIRLOSS_WITH_UV
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"

namespace pairloss_binding {

namespace {

std::atomic<int64_t> calls_total{0}, nudges_total{0};

constexpr std::chrono::milliseconds kBoostFor{100};

// LibTorch's at::internal::GRAIN_SIZE: no ATen kernel goes parallel below it.
constexpr int64_t kMaxElements = 32768;

struct EnvState;
class Executor;

struct AffineCall {
  explicit AffineCall(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  std::function<void()> work;
  std::function<Napi::Value(Napi::Env)> finish;
  CapturedError error;
  bool failed = false;
  int cpu = -1;
  std::shared_ptr<EnvState> state;
};

// One JS environment's side (the main thread's, or a worker_threads one's).
// Completed calls come back through a pipe watched by the event loop: a pipe
// write wakes the loop thread as a "sync" wake-up (the writer is about to
// sleep), which the scheduler answers by running it on the writer's CPU.
// (uv_async_send's eventfd wake-up is not one: the loop thread would be woken
// on the other, idle CPU.) Calls are handed to the thread in a prepare
// callback, just before the loop blocks for events, so that the computation
// starts on the CPU the loop thread is about to leave idle.
struct EnvState {
  napi_env env = nullptr;
  uv_poll_t poll{};
  uv_prepare_t prepare{};
  uv_timer_t watchdog{};
  uint64_t watched = 0;  // the last call handed to the thread
  std::shared_ptr<Executor> executor;  // made at the first hand-over
  int read_fd = -1, write_fd = -1;
  napi_ref resource = nullptr;
  napi_async_context context = nullptr;
  std::shared_ptr<EnvState> self;  // released when its handles have closed
  int open_handles = 0;
  // JS thread only
  std::vector<AffineCall*> pending;  // queued, not yet handed to the thread
  int in_flight = 0;
  // shared with the thread
  std::mutex mutex;
  std::condition_variable finished;
  std::vector<AffineCall*> done;
  int outstanding = 0;  // handed to the thread, not yet done
  bool closing = false;
};

thread_local EnvState* current = nullptr;  // this JS thread's environment

// One environment's affine thread (and, once nudged, its ordinary helper).
// Each event loop has its own -- the main thread's and every worker's --
// pinned to that loop's CPU, so that loops on different CPUs never queue
// behind each other. Made at the environment's first small async call; its
// threads hold it, and end once the environment's cleanup has stopped it.
class Executor : public std::enable_shared_from_this<Executor> {
 public:
  static std::shared_ptr<Executor> start() {
    std::shared_ptr<Executor> e(new Executor());
    std::thread([e] { e->idle_loop(); }).detach();
    return e;
  }

  // Queues calls; returns the number queued since the start, this batch included.
  uint64_t submit(std::vector<AffineCall*>& calls) {
    uint64_t upto;
    bool boosted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (AffineCall* c : calls) queue_.push_back(c);
      upto = submitted_ += calls.size();
      if (boosted_ && std::chrono::steady_clock::now() > boost_until_) boosted_ = false;
      boosted = boosted_;
    }
    ready_.notify_one();
    if (boosted) boost_ready_.notify_one();
    return upto;
  }

  // From the JS thread, a while after it queued call number `upto`: if that
  // call has not finished (these calls take microseconds), the CPU the idle
  // thread is pinned to is taken by another process, and a SCHED_IDLE thread
  // gets a turn there only every ~100 ms. A second, ordinary thread (which
  // an unprivileged process cannot make of a SCHED_IDLE one) then takes
  // queued calls too, on any CPU, for kBoostFor after the last nudge.
  void nudge(uint64_t upto) {
    if (finished_.load() >= upto) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      boost_until_ = std::chrono::steady_clock::now() + kBoostFor;
      if (!boosted_) nudges_total.fetch_add(1);
      boosted_ = true;
      if (!ordinary_) {
        ordinary_ = true;
        std::thread([self = shared_from_this()] { self->ordinary_loop(); }).detach();
      }
    }
    boost_ready_.notify_one();
  }

  // The environment is gone and its queue empty: the threads end.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    boost_ready_.notify_all();
  }

 private:
  Executor() = default;

  // SCHED_IDLE: the thread never preempts the JS thread, and a CPU that runs
  // only it counts as idle, so the JS thread is woken on that CPU when the
  // result is in -- no wake-up crosses CPUs.
  void idle_loop() {
    sched_param param{};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
    int pinned = -1;
    for (;;) {
      AffineCall* call;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping
        call = queue_.front();
        queue_.pop_front();
      }
      if (call->cpu >= 0 && call->cpu != pinned && call->cpu < CPU_SETSIZE) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(call->cpu, &set);
        // refused (a cpuset without that CPU): it runs wherever it is
        pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0 ? call->cpu : -1;
      }
      run(call);
    }
  }

  void ordinary_loop() {
    for (;;) {
      AffineCall* call;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        boost_ready_.wait(lock, [this] { return stopping_ || (boosted_ && !queue_.empty()); });
        if (queue_.empty()) return;  // stopping
        call = queue_.front();
        queue_.pop_front();
      }
      run(call);
    }
  }

  void run(AffineCall* call) {
    try {
      call->work();
    } catch (...) {
      call->error.capture();
      call->failed = true;
    }
    complete(call);
    finished_.fetch_add(1);
  }

  static void complete(AffineCall* call) {
    EnvState* s = call->state.get();
    bool closing;
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      s->done.push_back(call);
      closing = s->closing;
    }
    // The wake-up outside the lock: the woken JS thread takes it at once.
    // The pipe stays open meanwhile: on_cleanup waits for `outstanding`.
    const char byte = 1;
    // EAGAIN: the pipe is full of wake-ups the loop has yet to read
    while (!closing && write(s->write_fd, &byte, 1) < 0 && errno == EINTR) {
    }
    std::lock_guard<std::mutex> lock(s->mutex);
    if (--s->outstanding == 0 && s->closing) s->finished.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable ready_, boost_ready_;
  std::deque<AffineCall*> queue_;
  uint64_t submitted_ = 0;
  std::atomic<uint64_t> finished_{0};
  bool boosted_ = false;
  bool ordinary_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point boost_until_{};
};

bool enabled() {
  static const bool on = [] {
    const char* v = std::getenv("PAIRLOSS_ASYNC_AFFINE");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}

// A call not finished this long after it was queued brings in the ordinary
// thread (Executor::nudge) for kBoostFor.
constexpr uint64_t kWatchdogMs = 2;

void on_watchdog(uv_timer_t* handle) {
  auto* s = static_cast<EnvState*>(handle->data);
  if (s->executor) s->executor->nudge(s->watched);
}

// Before the loop blocks: hand the queued calls to the thread, to run on this CPU.
void on_prepare(uv_prepare_t* handle) {
  auto* s = static_cast<EnvState*>(handle->data);
  uv_prepare_stop(handle);
  if (s->pending.empty()) return;
  const int cpu = sched_getcpu();
  for (AffineCall* c : s->pending) c->cpu = cpu;
  {
    std::lock_guard<std::mutex> lock(s->mutex);
    s->outstanding += static_cast<int>(s->pending.size());
  }
  if (!s->executor) s->executor = Executor::start();
  s->watched = s->executor->submit(s->pending);
  s->pending.clear();
  uv_timer_start(&s->watchdog, on_watchdog, kWatchdogMs, 0);
}

// Completed calls: settle their Promises (microtasks run as the scope closes).
void on_readable(uv_poll_t* handle, int status, int events) {
  auto* s = static_cast<EnvState*>(handle->data);
  char buf[256];
  while (read(s->read_fd, buf, sizeof buf) > 0) {
  }
  std::vector<AffineCall*> done;
  {
    std::lock_guard<std::mutex> lock(s->mutex);
    done.swap(s->done);
  }
  if (done.empty()) return;
  napi_env env = s->env;
  napi_handle_scope handles = nullptr;
  napi_callback_scope callbacks = nullptr;
  napi_value resource = nullptr;
  const bool scoped = napi_open_handle_scope(env, &handles) == napi_ok &&
                      napi_get_reference_value(env, s->resource, &resource) == napi_ok &&
                      napi_open_callback_scope(env, resource, s->context, &callbacks) == napi_ok;
  for (AffineCall* raw : done) {
    std::unique_ptr<AffineCall> call(raw);
    --s->in_flight;
    if (!scoped) continue;
    if (call->failed) {
      reject_promise(Napi::Env(env), call->deferred, call->error);
    } else {
      settle_promise(Napi::Env(env), call->deferred, call->finish);
    }
  }
  if (s->in_flight == 0) {
    uv_unref(reinterpret_cast<uv_handle_t*>(&s->poll));
    uv_timer_stop(&s->watchdog);
  }
  if (callbacks != nullptr) napi_close_callback_scope(env, callbacks);
  if (handles != nullptr) napi_close_handle_scope(env, handles);
}

void on_closed(uv_handle_t* handle) {
  auto* s = static_cast<EnvState*>(handle->data);
  if (--s->open_handles > 0) return;
  close(s->read_fd);
  close(s->write_fd);
  s->self.reset();  // may delete s
}

// The environment is being torn down: its calls' Promises are never settled.
// Calls running or queued on the thread write into memory of this
// environment's (ArrayBuffers, typed-array inputs): wait for them first
// (they are small: microseconds each), then free them here, on the JS thread.
void on_cleanup(void* arg) {
  auto* s = static_cast<EnvState*>(arg);
  std::vector<AffineCall*> done;
  // no watchdog can fire while this thread waits: bring the ordinary thread in now
  if (s->executor) s->executor->nudge(s->watched);
  {
    std::unique_lock<std::mutex> lock(s->mutex);
    s->closing = true;
    s->finished.wait(lock, [s] { return s->outstanding == 0; });
    done.swap(s->done);
  }
  if (s->executor) s->executor->stop();
  for (AffineCall* c : done) delete c;
  for (AffineCall* c : s->pending) delete c;
  s->pending.clear();
  if (s->context != nullptr) napi_async_destroy(s->env, s->context);
  if (s->resource != nullptr) napi_delete_reference(s->env, s->resource);
  if (current == s) current = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&s->poll), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->prepare), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->watchdog), on_closed);
}

EnvState* env_state(Napi::Env env) {
  if (current != nullptr && current->env == env) return current;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return nullptr;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return nullptr;
  auto s = std::make_shared<EnvState>();
  s->env = env;
  s->read_fd = fds[0];
  s->write_fd = fds[1];
  if (uv_poll_init(loop, &s->poll, s->read_fd) != 0) {
    close(fds[0]);
    close(fds[1]);
    return nullptr;
  }
  uv_prepare_init(loop, &s->prepare);
  uv_timer_init(loop, &s->watchdog);
  s->poll.data = s.get();
  s->prepare.data = s.get();
  s->watchdog.data = s.get();
  s->open_handles = 3;
  s->self = s;
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  uv_unref(reinterpret_cast<uv_handle_t*>(&s->poll));  // ref'd only while calls are in flight
  uv_unref(reinterpret_cast<uv_handle_t*>(&s->prepare));
  uv_unref(reinterpret_cast<uv_handle_t*>(&s->watchdog));
  Napi::Object resource = Napi::Object::New(env);
  napi_create_reference(env, resource, 1, &s->resource);
  napi_async_init(env, resource, Napi::String::New(env, "pairloss"), &s->context);
  napi_add_env_cleanup_hook(env, on_cleanup, s.get());
  current = s.get();
  return current;
}

}  // namespace

bool affine_compiled() { return true; }

bool affine_eligible(std::initializer_list<int64_t> elements) {
  if (!enabled()) return false;
  for (int64_t e : elements) {
    if (e < 0 || e >= kMaxElements) return false;
  }
  return true;
}

std::optional<Napi::Promise> start_affine(Napi::Env env, std::function<void()> work,
                                          std::function<Napi::Value(Napi::Env)> finish) {
  EnvState* s = env_state(env);
  if (s == nullptr) return std::nullopt;
  auto* call = new AffineCall(env);
  call->work = std::move(work);
  call->finish = std::move(finish);
  call->state = s->self;
  Napi::Promise promise = call->deferred.Promise();
  s->pending.push_back(call);
  calls_total.fetch_add(1);
  if (s->in_flight++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(&s->poll));
  uv_prepare_start(&s->prepare, on_prepare);
  return promise;
}

}  // namespace pairloss_binding

#else  // no libuv header: every async call takes the libuv pool

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace pairloss_binding {
namespace {
std::atomic<int64_t> calls_total{0}, nudges_total{0};
bool enabled() { return false; }
}  // namespace
bool affine_compiled() { return false; }
bool affine_eligible(std::initializer_list<int64_t>) { return false; }
std::optional<Napi::Promise> start_affine(Napi::Env, std::function<void()>, std::function<Napi::Value(Napi::Env)>) {
  return std::nullopt;
}
}  // namespace pairloss_binding

#endif

namespace pairloss_binding {

namespace {
Napi::Value AffineStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("compiled", Napi::Boolean::New(env, affine_compiled()));
  out.Set("enabled", Napi::Boolean::New(env, enabled()));
  out.Set("calls", Napi::Number::New(env, static_cast<double>(calls_total.load())));
  out.Set("nudged", Napi::Number::New(env, static_cast<double>(nudges_total.load())));
  return out;
}
}  // namespace

void init_affine(Napi::Env env, Napi::Object exports) {
  exports.Set("affineStats", Napi::Function::New<guarded<AffineStats>>(env, "affineStats"));
}

}  // namespace pairloss_binding
