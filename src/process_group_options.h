// What a process group is asked to be (ProcessGroup::connect's options) and
// the enums of its collectives: the ground floor under process_group.h, the
// rendezvous (rendezvous.h) and the header check (group_protocol.h).
#pragma once

#include <chrono>
#include <string>

namespace pairloss {

enum class Backend { Gloo, Nccl };
enum class ReduceOp { Sum, Avg, Max, Min, Product };

struct ProcessGroupOptions {
  Backend backend = Backend::Gloo;
  int rank = 0;
  int world_size = 1;
  // Address of the TCPStore: rank 0's, which serves it (or, with
  // agent_store, the launcher's).
  std::string host = "127.0.0.1";
  int port = 29500;
  // The store is served by the launcher (torchrun's elastic agent,
  // TORCHELASTIC_USE_AGENT_STORE=True): every rank, rank 0 too, is a client.
  bool agent_store = false;
  // With agent_store: the launcher's restart attempt
  // (TORCHELASTIC_RESTART_COUNT), which scopes the group's keys on the
  // agent's store as torch's own worker scopes them (rendezvous.h).
  int restart_count = 0;
  // Rendezvous and every collective: a peer silent for this long is an error.
  std::chrono::milliseconds timeout{300000};
  // torch.distributed puts its default group under PrefixStore("default_pg");
  // another prefix makes an independent group on the same store.
  std::string store_prefix = "default_pg";
  // Exchange a header before each collective (among the pairloss members).
  bool check_shapes = true;
  // NCCL only: the CUDA device of this rank (-1: rank % device count).
  int cuda_device = -1;
};

}  // namespace pairloss
