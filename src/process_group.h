// Process groups on c10d: a TCPStore rendezvous and a ProcessGroupGloo (or
// ProcessGroupNCCL where LibTorch has CUDA), joined the way torch's
// torch.distributed.init_process_group joins them, so that a Python rank can
// be a member of the same group (rendezvous.cpp has the recipe).
//
// Every collective of a group runs on the group's own thread, one after the
// other in the order the calls were submitted: c10d needs the same order on
// every rank, and nothing here ever blocks the caller's event loop unless the
// caller waits (task_thread.h). Before each collective the members that are
// pairloss processes exchange a small header (kind, dtype, shape;
// group_protocol.h) and refuse a mismatch with an ArgumentError naming the
// ranks and shapes, where Gloo itself would abort the process. A failed
// collective (a peer exited, a timeout; group_errors.h says which) marks the
// group broken: its connections are closed at once so that the other ranks
// fail promptly too, and every later call throws.
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "group_errors.h"  // GroupError
#include "process_group_options.h"

namespace pairloss {

// 'gloo' | 'nccl' (a RangeError naming `name` otherwise, or for 'nccl' on a
// LibTorch without CUDA and NCCL).
Backend parse_backend(const std::string& value, const char* name = "backend");
// 'sum' | 'avg' | 'max' | 'min' | 'product'.
ReduceOp parse_reduce_op(const std::string& value, const char* name = "op");
const char* backend_name(Backend backend);

class ProcessGroup : public std::enable_shared_from_this<ProcessGroup> {
 public:
  // Joins the group: blocks until every rank has arrived (rank 0 serves the
  // store and waits for the others) or the timeout passes. Call it off the
  // event loop.
  static std::shared_ptr<ProcessGroup> connect(const ProcessGroupOptions& options);

  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int world_size() const;
  Backend backend() const;
  // Ranks that are pairloss processes (the others are e.g. Python ranks).
  const std::vector<int>& pairloss_ranks() const;
  // Where collectives of this group take their tensors (CPU for Gloo).
  at::Device device() const;

  // Empty while usable; otherwise why not ("broken: ..." / "destroyed").
  std::string unusable_reason() const;
  bool usable() const { return unusable_reason().empty(); }

  // Runs `task` on the group's thread after every task submitted before it.
  // The task must not throw (it reports through its own channel). Throws
  // GroupError when the group has been destroyed.
  void submit(std::function<void()> task);
  // Runs `task` as submit does and waits for it; its exception is rethrown
  // here. Called on the group's thread, it runs `task` inline.
  void run(const std::function<void()>& task);
  // True on the group's thread.
  bool on_group_thread() const;

  // The collectives. Each one blocks until done, from any thread (on the
  // group's thread it runs inline, elsewhere it is submitted and waited for).
  // Inputs are not modified; results are new tensors on the input's device.
  // `label` names the collective in error messages and in the header check.

  // Elementwise reduction of `t` over the ranks.
  at::Tensor all_reduce(const at::Tensor& t, ReduceOp op, const std::string& label = "allReduce");
  // Every rank's `t` stacked: [W, ...t.shape].
  at::Tensor all_gather(const at::Tensor& t, const std::string& label = "allGather");
  // Rank `src`'s `t` on every rank.
  at::Tensor broadcast(const at::Tensor& t, int src, const std::string& label = "broadcast");
  void barrier(const std::string& label = "barrier");
  // The ring's neighbour exchange (open_clip's SigLIP): sends `t` to rank
  // (rank + 1) mod W and returns what rank (rank - 1) mod W sent, of the same
  // shape and dtype (point-to-point, no all-gather).
  at::Tensor ring_shift(const at::Tensor& t, const std::string& label = "ringShift");
  // In place of collective `label`: this rank refused its own arguments to
  // it (`reason`, e.g. "RangeError: ..."). The pairloss members, waiting in
  // that collective's header exchange, reject it at once with a RangeError
  // naming this rank, and every member skips it (with non-pairloss members
  // the group is then broken, as for any disagreement). Returns without
  // throwing; a no-op on a group without the header check.
  void reject(const std::string& label, const std::string& reason);

  // Waits for the submitted tasks, closes the connections and stops the
  // group's thread. Later calls throw GroupError. Idempotent.
  void destroy();

  struct State;

 private:
  explicit ProcessGroup(std::shared_ptr<State> state);
  // Shared with the group's thread, which may outlive this object by the
  // end of the task it is running.
  std::shared_ptr<State> state_;
};

// Autograd-free helpers the losses use under a group. `group` may be null:
// then they are the identity (one process).
//
// Mean over ranks of `x` (correlation_loss_func: dist.all_reduce(corr); corr /= W).
at::Tensor mean_over_ranks(ProcessGroup* group, const at::Tensor& x, const std::string& label);
// Sum over ranks of `x`.
at::Tensor sum_over_ranks(ProcessGroup* group, const at::Tensor& x, const std::string& label);
// Every rank's `x` concatenated along dim 0: [W * x.size(0), ...].
at::Tensor cat_over_ranks(ProcessGroup* group, const at::Tensor& x, const std::string& label);

}  // namespace pairloss
