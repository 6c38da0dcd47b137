#include "process_group.h"

#include <mutex>
#include <thread>

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include "errors.h"
#include "group_errors.h"
#include "group_protocol.h"
#include "rendezvous.h"
#include "task_thread.h"

namespace pairloss {

namespace {

c10d::ReduceOp to_c10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::Max: return c10d::ReduceOp(c10d::ReduceOp::MAX);
    case ReduceOp::Min: return c10d::ReduceOp(c10d::ReduceOp::MIN);
    case ReduceOp::Product: return c10d::ReduceOp(c10d::ReduceOp::PRODUCT);
    default: return c10d::ReduceOp(c10d::ReduceOp::SUM);  // avg: sum, then / W
  }
}

}  // namespace

// ---------------------------------------------------------------------------

Backend parse_backend(const std::string& value, const char* name) {
  if (value == "gloo") {
#ifndef PAIRLOSS_GLOO
    throw_range_error(std::string(name) + " 'gloo' is not available: this LibTorch " + TORCH_VERSION +
                      " was built without Gloo");
#endif
    return Backend::Gloo;
  }
  if (value == "nccl") {
#ifndef PAIRLOSS_NCCL
    throw_range_error(std::string(name) + " 'nccl' needs a LibTorch with CUDA and NCCL; this LibTorch " +
                      TORCH_VERSION + " has none (use 'gloo')");
#endif
    return Backend::Nccl;
  }
  throw_range_error(std::string(name) + " must be 'gloo' or 'nccl', got '" + value + "'");
}

ReduceOp parse_reduce_op(const std::string& value, const char* name) {
  if (value == "sum") return ReduceOp::Sum;
  if (value == "avg") return ReduceOp::Avg;
  if (value == "max") return ReduceOp::Max;
  if (value == "min") return ReduceOp::Min;
  if (value == "product") return ReduceOp::Product;
  throw_range_error(std::string(name) + " must be one of 'sum', 'avg', 'max', 'min', 'product', got '" + value + "'");
}

const char* backend_name(Backend backend) { return backend == Backend::Nccl ? "nccl" : "gloo"; }

struct ProcessGroup::State {
  ProcessGroupOptions options;
  // store, comm, check, pairloss ranks, device
  Rendezvous joined;
  int64_t sequence = 0;

  mutable std::mutex reason_mutex;
  std::string reason;

  TaskThread thread;

  std::string unusable() const {
    std::lock_guard<std::mutex> lock(reason_mutex);
    return reason;
  }

  void throw_if_unusable() const {
    const std::string r = unusable();
    if (!r.empty()) throw GroupError("process group " + r);
  }

  std::string where() const {
    return "rank " + std::to_string(options.rank) + " of " + std::to_string(options.world_size);
  }

  // Drops the connections: the peers' pending and later collectives fail at
  // once instead of waiting for their timeout. `stuck`: a collective may
  // still hold a Gloo thread, so the teardown (which joins them) must not
  // block this thread.
  void teardown(bool stuck) {
    auto comm_ = std::move(joined.comm);
    auto check_ = std::move(joined.check);
    auto store_ = std::move(joined.store);
    if (stuck) {
      std::thread([c = std::move(comm_), k = std::move(check_), s = std::move(store_)]() mutable {
        k.reset();
        c.reset();
        s.reset();
      }).detach();
    } else {
      check_.reset();
      comm_.reset();
      store_.reset();
    }
  }

  void mark_broken(const std::string& why, bool stuck) {
    {
      std::lock_guard<std::mutex> lock(reason_mutex);
      if (reason.empty()) reason = "is broken: " + why;
    }
    teardown(stuck);
  }

  void mark_destroyed() {
    {
      std::lock_guard<std::mutex> lock(reason_mutex);
      if (reason.empty()) reason = "has been destroyed";
    }
    teardown(false);
  }

  // A failed collective: explains it, breaks the group, throws.
  [[noreturn]] void fail(const std::string& label, const std::string& what, bool stuck) {
    // under PAIRLOSS_GLOO_SURVIVE=1, what Gloo's transport thread choked on
    const std::string transport = gloo_transport_failure();
    const std::string cause = transport.empty()
                                  ? failure_cause(what, options.timeout)
                                  : "a peer rank sent a message of another size or dtype than this rank's (Gloo's "
                                    "transport thread was stopped: " + transport + ")";
    const std::string message = label + " failed on " + where() + ": " + cause + " [" + what + "]";
    mark_broken(message, stuck);
    throw GroupError(message + ". The process group is now broken; make a new one (another port or storePrefix)");
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& label) {
    try {
      // Gloo's own timeout ends a silent collective; this is a safety net.
      work->wait(options.timeout + std::chrono::seconds(10));
    } catch (const std::exception& e) {
      const std::string what = message_of(e);
      fail(label, what, says_collective_stuck(what));
    }
  }

  // The pairloss ranks show each other what they are about to run; a
  // mismatch is a RangeError on all of them instead of a Gloo abort. A
  // Rejected header (this rank refused its own arguments) only informs the
  // others: it never throws here.
  void check_agreement(Header mine) {
    mine.sequence = ++sequence;
    if (!joined.check) return;
    const auto encoded = mine.encode();
    at::Tensor input = at::tensor(encoded, at::kLong);
    const auto& ranks = joined.pairloss_ranks;
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (size_t i = 0; i < ranks.size(); ++i) outputs[0].push_back(at::empty({kHeaderLength}, at::kLong));
    std::vector<at::Tensor> inputs{input};
    const std::string label = mine.label + " (shape check)";
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = joined.check->allgather(outputs, inputs);
    } catch (const std::exception& e) {
      fail(label, message_of(e), false);
    }
    wait(work, label);

    std::vector<const int64_t*> headers;
    for (const auto& h : outputs[0]) headers.push_back(h.data_ptr<int64_t>());
    const Agreement agreement = compare_headers(encoded, headers, ranks);
    if (agreement.agree) return;
    // Out of step, or members that took no part in the check would wait
    // forever in the collective we skip: the group cannot go on.
    const bool cannot_go_on = !agreement.in_step || ranks.size() != static_cast<size_t>(options.world_size);
    std::string message;
    if (!agreement.rejected.empty() && agreement.in_step) {
      message = mine.label + ": " + agreement.rejected +
                (agreement.rejected.find(';') == std::string::npos ? " rejected its" : " rejected their") +
                " own arguments to this collective, so every rank skips it";
    } else {
      message = mine.label + ": the ranks disagree on this collective (every rank must make the same calls in the "
                "same order, with tensors of the same shape and dtype): " + agreement.list;
    }
    if (cannot_go_on) {
      mark_broken(message, false);
      message += ". The process group is now broken";
    }
    if (mine.kind == Kind::Rejected) return;
    throw_range_error(message);
  }

  // This rank refuses its own arguments to the collective `label`: the
  // pairloss members learn so in the header exchange (a RangeError naming
  // this rank) instead of waiting for it until the timeout. Never throws.
  void reject(const std::string& label, const std::string& reason) {
    if (!unusable().empty()) return;
    Header h;
    h.kind = Kind::Rejected;
    h.label = label;
    h.reason = reason;
    try {
      check_agreement(h);
    } catch (...) {
      // the group broke meanwhile: the caller's own error says enough
    }
  }

  // Runs `checks` (this rank's argument checks for collective `label`); an
  // ArgumentError from them is announced to the others, then rethrown.
  template <typename F>
  auto checked(const std::string& label, F&& checks) -> decltype(checks()) {
    try {
      return checks();
    } catch (const ArgumentError& e) {
      reject(label, std::string(e.kind() == ArgumentError::Kind::Type ? "TypeError: " : "RangeError: ") + e.what());
      throw;
    }
  }

  // Runs one collective on this (the group's) thread: check, issue, wait.
  void execute(const Header& header, const std::function<c10::intrusive_ptr<c10d::Work>()>& issue) {
    throw_if_unusable();
    check_agreement(header);
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = issue();
    } catch (const std::exception& e) {
      fail(header.label, message_of(e), false);
    }
    wait(work, header.label);
  }

  at::Tensor prepare(const at::Tensor& t, const char* what) const {
    if (!t.defined()) throw_type_error(std::string(what) + ": the tensor is undefined");
    at::NoGradGuard no_grad;
    // A private, contiguous copy on the group's device: c10d writes into it.
    return t.detach().to(joined.device, t.scalar_type(), /*non_blocking=*/false, /*copy=*/true).contiguous();
  }
};

// ---------------------------------------------------------------------------

std::shared_ptr<ProcessGroup> ProcessGroup::connect(const ProcessGroupOptions& o) {
  if (o.world_size < 1) throw_range_error("worldSize must be an integer >= 1, got " + std::to_string(o.world_size));
  if (o.rank < 0 || o.rank >= o.world_size) {
    throw_range_error("rank must be an integer in [0, worldSize - 1] = [0, " + std::to_string(o.world_size - 1) +
                      "], got " + std::to_string(o.rank));
  }
  if (o.port < 1 || o.port > 65535) throw_range_error("port must be an integer in [1, 65535], got " + std::to_string(o.port));
  if (o.timeout.count() <= 0) throw_range_error("timeoutMs must be > 0, got " + std::to_string(o.timeout.count()));
  if (o.host.empty()) throw_range_error("host must be a host name or address, got ''");
  if (o.store_prefix.empty()) throw_range_error("storePrefix must be a non-empty string");
  if (o.restart_count < 0) throw_range_error("restartCount must be an integer >= 0, got " + std::to_string(o.restart_count));
  parse_backend(backend_name(o.backend));  // available in this build?

  install_gloo_survival();
  Rendezvous joined;
  try {
    joined = rendezvous(o);
  } catch (const ArgumentError&) {
    throw;
  } catch (const std::exception& e) {
    // our own words (GroupError) as they are; c10d's and Gloo's explained
    const bool ours = dynamic_cast<const GroupError*>(&e) != nullptr;
    throw GroupError("ProcessGroup.init (rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) +
                     ", " + o.host + ":" + std::to_string(o.port) +
                     (o.agent_store ? ", the launcher's store" : "") + "): " +
                     (ours ? std::string(e.what()) : rendezvous_failure(message_of(e), o.timeout)));
  }
  auto s = std::make_shared<State>();
  s->options = o;
  s->joined = std::move(joined);
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(s));
}

ProcessGroup::ProcessGroup(std::shared_ptr<State> state) : state_(std::move(state)) {}

// The thread stops with the state (TaskThread's destructor).
ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return state_->options.rank; }
int ProcessGroup::world_size() const { return state_->options.world_size; }
Backend ProcessGroup::backend() const { return state_->options.backend; }
const std::vector<int>& ProcessGroup::pairloss_ranks() const { return state_->joined.pairloss_ranks; }
at::Device ProcessGroup::device() const { return state_->joined.device; }
std::string ProcessGroup::unusable_reason() const { return state_->unusable(); }
bool ProcessGroup::on_group_thread() const { return state_->thread.on_thread(); }

void ProcessGroup::submit(std::function<void()> task) { state_->thread.submit(std::move(task)); }

void ProcessGroup::run(const std::function<void()>& task) { state_->thread.run(task); }

at::Tensor ProcessGroup::all_reduce(const at::Tensor& t, ReduceOp op, const std::string& label) {
  at::Tensor out;
  run([&] {
    State& s = *state_;
    s.throw_if_unusable();
    at::Tensor x = s.checked(label, [&] {
      at::Tensor y = s.prepare(t, label.c_str());
      if (op == ReduceOp::Avg && !at::isFloatingType(y.scalar_type())) {
        throw_range_error(label + ": op 'avg' needs a floating tensor, got " + dtype_name(y.scalar_type()));
      }
      return y;
    });
    Header h;
    h.kind = Kind::AllReduce;
    h.arg = static_cast<int64_t>(op);
    h.dtype = x.scalar_type();
    h.sizes = x.sizes().vec();
    h.label = label;
    s.execute(h, [&] {
      std::vector<at::Tensor> tensors{x};
      c10d::AllreduceOptions options;
      options.reduceOp = to_c10d(op);
      return s.joined.comm->allreduce(tensors, options);
    });
    if (op == ReduceOp::Avg) x.div_(s.options.world_size);
    out = x.to(t.device());
  });
  return out;
}

at::Tensor ProcessGroup::all_gather(const at::Tensor& t, const std::string& label) {
  at::Tensor out;
  run([&] {
    State& s = *state_;
    s.throw_if_unusable();
    at::Tensor x = s.checked(label, [&] { return s.prepare(t, label.c_str()); });
    Header h;
    h.kind = Kind::AllGather;
    h.dtype = x.scalar_type();
    h.sizes = x.sizes().vec();
    h.label = label;
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int i = 0; i < s.options.world_size; ++i) outputs[0].push_back(at::empty_like(x));
    s.execute(h, [&] {
      std::vector<at::Tensor> inputs{x};
      return s.joined.comm->allgather(outputs, inputs);
    });
    out = at::stack(outputs[0]).to(t.device());
  });
  return out;
}

at::Tensor ProcessGroup::broadcast(const at::Tensor& t, int src, const std::string& label) {
  at::Tensor out;
  run([&] {
    State& s = *state_;
    s.throw_if_unusable();
    at::Tensor x = s.checked(label, [&] {
      if (src < 0 || src >= s.options.world_size) {
        throw_range_error(label + ": src must be a rank in [0, " + std::to_string(s.options.world_size - 1) +
                          "], got " + std::to_string(src));
      }
      return s.prepare(t, label.c_str());
    });
    Header h;
    h.kind = Kind::Broadcast;
    h.arg = src;
    h.dtype = x.scalar_type();
    h.sizes = x.sizes().vec();
    h.label = label;
    s.execute(h, [&] {
      std::vector<at::Tensor> tensors{x};
      c10d::BroadcastOptions options;
      options.rootRank = src;
      options.rootTensor = 0;
      return s.joined.comm->broadcast(tensors, options);
    });
    out = x.to(t.device());
  });
  return out;
}

void ProcessGroup::barrier(const std::string& label) {
  run([&] {
    State& s = *state_;
    Header h;
    h.kind = Kind::Barrier;
    h.dtype = at::kByte;
    h.label = label;
    s.execute(h, [&] { return s.joined.comm->barrier(c10d::BarrierOptions()); });
  });
}

at::Tensor ProcessGroup::ring_shift(const at::Tensor& t, const std::string& label) {
  at::Tensor out;
  run([&] {
    State& s = *state_;
    s.throw_if_unusable();
    at::Tensor x = s.checked(label, [&] { return s.prepare(t, label.c_str()); });
    const int w = s.options.world_size, rank = s.options.rank;
    Header h;
    h.kind = Kind::RingShift;
    h.dtype = x.scalar_type();
    h.sizes = x.sizes().vec();
    h.label = label;
    at::Tensor received = at::empty_like(x);
    if (w == 1) {
      s.check_agreement(h);
      received.copy_(x);
    } else {
      c10::intrusive_ptr<c10d::Work> sent;
      s.execute(h, [&] {
        constexpr int kTag = 0x5167;  // the sends and receives of a pair match in call order
        std::vector<at::Tensor> out_tensors{x};
        sent = s.joined.comm->send(out_tensors, (rank + 1) % w, kTag);
        std::vector<at::Tensor> in_tensors{received};
        return s.joined.comm->recv(in_tensors, (rank + w - 1) % w, kTag);
      });
      s.wait(sent, label);
    }
    out = received.to(t.device());
  });
  return out;
}

void ProcessGroup::reject(const std::string& label, const std::string& reason) {
  run([&] { state_->reject(label, reason); });
}

void ProcessGroup::destroy() {
  if (on_group_thread()) {
    // From a task: tear down now; the thread stops once the queue drains.
    state_->mark_destroyed();
    state_->thread.stop();
    return;
  }
  std::shared_ptr<State> s = state_;
  try {
    run([s] { s->mark_destroyed(); });
  } catch (const GroupError&) {
    // already stopping
  }
  s->thread.join();
}

// ---------------------------------------------------------------------------

at::Tensor mean_over_ranks(ProcessGroup* group, const at::Tensor& x, const std::string& label) {
  if (!group) return x;
  at::Tensor summed = group->all_reduce(x, ReduceOp::Sum, label);
  summed.div_(group->world_size());  // as correlation_loss_func: corr /= world_size
  return summed;
}

at::Tensor sum_over_ranks(ProcessGroup* group, const at::Tensor& x, const std::string& label) {
  if (!group) return x;
  return group->all_reduce(x, ReduceOp::Sum, label);
}

at::Tensor cat_over_ranks(ProcessGroup* group, const at::Tensor& x, const std::string& label) {
  if (!group) return x;
  return group->all_gather(x, label).flatten(0, 1);
}

}  // namespace pairloss
