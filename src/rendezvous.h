// Joining a group the way torch.distributed.init_process_group joins one, so
// that Python ranks of the same torch version can be members: the TCPStore,
// the default group's prefixes, the Gloo (or NCCL) backend over it, the
// store-based barrier and the sequence number handshake; plus the pairloss
// members' own Gloo group for the header check. The recipe is written down in
// rendezvous.cpp.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/Store.hpp>
#if defined(PAIRLOSS_WITH_GLOO) && defined(USE_C10D_GLOO)
#define PAIRLOSS_GLOO 1
#endif
#if defined(PAIRLOSS_WITH_NCCL) && defined(USE_C10D_NCCL)
#define PAIRLOSS_NCCL 1
#endif
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

#include "process_group_options.h"

namespace pairloss {

// What a c10d backend is called: a ProcessGroup in torch 1.x, a Backend in 2.x.
#if TORCH_VERSION_MAJOR >= 2
using Comm = c10d::Backend;
#else
using Comm = c10d::ProcessGroup;
#endif

// What a joined member holds.
struct Rendezvous {
  // The TCPStore: kept for the group's life (rank 0 may serve it to late ranks).
  c10::intrusive_ptr<c10d::Store> store;
  // The group's backend.
  c10::intrusive_ptr<Comm> comm;
  // Gloo group of the pairloss ranks only, for the header check (null: no check).
  c10::intrusive_ptr<Comm> check;
  // Ranks that are pairloss processes, in rank order.
  std::vector<int> pairloss_ranks;
  // Where the backend takes its tensors.
  at::Device device = at::kCPU;
};

// The store prefix under which torch's worker of this LibTorch's version puts
// its default group on an agent's store (`agent_store`), for restart attempt
// `restart_count`: "/worker/attempt_<n>" before torch 2.6, "" from 2.6 on
// (where the agent makes a new store for each attempt).
std::string agent_store_prefix(int restart_count);

// Blocks until every rank has arrived or the timeout passes. Throws
// ArgumentError for an unusable option (no CUDA device for NCCL), GroupError
// for a failed rendezvous (port in use, peers missing, timeout).
Rendezvous rendezvous(const ProcessGroupOptions& options);

}  // namespace pairloss
