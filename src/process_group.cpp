#include "process_group.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include <ATen/Context.h>
#include <c10/util/Exception.h>
#include <torch/version.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#if defined(PAIRLOSS_WITH_GLOO) && defined(USE_C10D_GLOO)
#define PAIRLOSS_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(PAIRLOSS_WITH_NCCL) && defined(USE_C10D_NCCL)
#define PAIRLOSS_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

#include "errors.h"

namespace pairloss {

namespace {

// What a c10d backend is called: a ProcessGroup in torch 1.x, a Backend in 2.x.
#if TORCH_VERSION_MAJOR >= 2
using Comm = c10d::Backend;
#else
using Comm = c10d::ProcessGroup;
#endif

using Clock = std::chrono::steady_clock;

std::string ms(std::chrono::milliseconds t) { return std::to_string(t.count()) + " ms"; }

std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string message_of(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    default: return c10::toString(t);
  }
}

std::string shape_string(c10::IntArrayRef sizes) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < sizes.size(); ++i) s << (i ? ", " : "") << sizes[i];
  s << "]";
  return s.str();
}

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Avg: return "avg";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
    case ReduceOp::Product: return "product";
  }
  return "?";
}

// The local address this host uses to reach `host` (a UDP "connect" sends
// nothing; it only picks the route), so that Gloo listens on the interface
// the peers can reach, not only on loopback. Empty when it cannot be found.
std::string local_address_towards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return "";
  std::string result;
  // IPv4 first, as TCPStore's client tries it first.
  for (int family : {AF_INET, AF_INET6}) {
    for (addrinfo* a = found; a && result.empty(); a = a->ai_next) {
      if (a->ai_family != family) continue;
      const int fd = socket(a->ai_family, SOCK_DGRAM, 0);
      if (fd < 0) continue;
      sockaddr_storage local{};
      socklen_t len = sizeof(local);
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 &&
          getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
        char text[INET6_ADDRSTRLEN] = {0};
        const void* where = local.ss_family == AF_INET
                                ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
                                : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
        if (inet_ntop(local.ss_family, where, text, sizeof(text))) result = text;
      }
      close(fd);
    }
  }
  freeaddrinfo(found);
  return result;
}

#ifdef PAIRLOSS_GLOO
c10::intrusive_ptr<Comm> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                   const ProcessGroupOptions& o) {
  auto options = c10d::ProcessGroupGloo::Options::create(o.timeout);
  // As torch's Python binding: the interfaces in GLOO_SOCKET_IFNAME, else the
  // address that reaches rank 0 (torch: the one the hostname resolves to).
  const char* ifnames = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifnames && std::strlen(ifnames) > 0) {
    std::stringstream list(ifnames);
    std::string name;
    while (std::getline(list, name, ',')) {
      if (!name.empty()) options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
    }
  }
  if (options->devices.empty()) {
    const std::string local = local_address_towards(o.host, o.port);
    options->devices.push_back(local.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                             : c10d::ProcessGroupGloo::createDeviceForHostname(local));
  }
  options->threads = static_cast<int>(options->devices.size()) * 2;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
}
#endif

// torch 1.13 `_store_based_barrier`: every rank adds 1 to the key, then polls
// (with add(key, 0), as torch does) until the count reaches the world size.
void store_based_barrier(c10d::Store& store, int world_size, std::chrono::milliseconds timeout) {
  // `_group_count` is 1 once the default group "0" exists.
  const std::string key = "store_based_barrier_key:1";
  store.add(key, 1);
  const auto start = Clock::now();
  int64_t count = store.add(key, 0);
  while (count != world_size) {
    if (Clock::now() - start > timeout) {
      throw GroupError("timed out after " + ms(timeout) + " in the store-based barrier: " + std::to_string(count) +
                       " of " + std::to_string(world_size) + " ranks arrived");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    count = store.add(key, 0);
  }
}

// --- the header exchanged before each collective -------------------------

enum class Kind : int64_t { AllReduce = 1, AllGather = 2, Broadcast = 3, Barrier = 4 };

constexpr int64_t kMagic = 0x706c6f7373;  // "ploss"
constexpr int kMaxDims = 8;
constexpr int kLabelSlots = 8;  // 64 bytes of label
// [magic, sequence, kind, arg, dtype, ndim, dims x8, dims hash, label x8]
constexpr int kHeaderLength = 6 + kMaxDims + 1 + kLabelSlots;

struct Header {
  int64_t sequence = 0;
  Kind kind = Kind::AllReduce;
  int64_t arg = 0;  // reduce op or source rank
  at::ScalarType dtype = at::kFloat;
  std::vector<int64_t> sizes;
  std::string label;

  std::vector<int64_t> encode() const {
    std::vector<int64_t> h(kHeaderLength, 0);
    h[0] = kMagic;
    h[1] = sequence;
    h[2] = static_cast<int64_t>(kind);
    h[3] = arg;
    h[4] = static_cast<int64_t>(dtype);
    h[5] = static_cast<int64_t>(sizes.size());
    uint64_t hash = 1469598103934665603ULL;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (i < kMaxDims) h[6 + i] = sizes[i];
      hash = (hash ^ static_cast<uint64_t>(sizes[i])) * 1099511628211ULL;
    }
    h[6 + kMaxDims] = static_cast<int64_t>(hash);
    std::memcpy(&h[7 + kMaxDims], label.data(), std::min(label.size(), sizeof(int64_t) * kLabelSlots));
    return h;
  }

  static Header decode(const int64_t* h) {
    Header d;
    d.sequence = h[1];
    d.kind = static_cast<Kind>(h[2]);
    d.arg = h[3];
    d.dtype = static_cast<at::ScalarType>(h[4]);
    for (int64_t i = 0; i < std::min<int64_t>(h[5], kMaxDims); ++i) d.sizes.push_back(h[6 + i]);
    const char* text = reinterpret_cast<const char*>(&h[7 + kMaxDims]);
    d.label.assign(text, strnlen(text, sizeof(int64_t) * kLabelSlots));
    return d;
  }

  std::string describe() const {
    std::string s = label;
    if (kind == Kind::AllReduce) s += "(" + std::string(reduce_op_name(static_cast<ReduceOp>(arg))) + ")";
    if (kind == Kind::Broadcast) s += " from rank " + std::to_string(arg);
    if (kind != Kind::Barrier) s += " " + dtype_name(dtype) + " " + shape_string(sizes);
    return s;
  }
};

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
  std::vector<int> pairloss_ranks;
  at::Device device = at::kCPU;
  // Kept for the group's life: rank 0 serves the store that late ranks still poll.
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Comm> comm;
  // Gloo group of the pairloss ranks only, for the header exchange (null: no check).
  c10::intrusive_ptr<Comm> check;
  int64_t sequence = 0;

  mutable std::mutex reason_mutex;
  std::string reason;

  std::mutex queue_mutex;
  std::condition_variable queue_cv;
  std::deque<std::function<void()>> queue;
  bool stopping = false;
  std::thread thread;
  std::thread::id thread_id;

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
    auto comm_ = std::move(comm);
    auto check_ = std::move(check);
    auto store_ = std::move(store);
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

  // A failed collective: explains it, breaks the group, throws.
  [[noreturn]] void fail(const std::string& label, const std::string& what, bool stuck) {
    std::string cause;
    if (what.find("closed by peer") != std::string::npos || what.find("Connection reset") != std::string::npos ||
        what.find("Broken pipe") != std::string::npos || what.find("Connection refused") != std::string::npos) {
      cause = "a peer rank closed its connection (its process exited or crashed, or it left the group after an error "
              "of its own)";
    } else if (what.find("imed out") != std::string::npos || what.find("imeout") != std::string::npos) {
      cause = "timed out after " + ms(options.timeout) +
              " waiting for a peer rank (a rank is alive but did not take part)";
    } else {
      cause = "the collective failed";
    }
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
      fail(label, what, what.find("Operation timed out") != std::string::npos);
    }
  }

  // The pairloss ranks show each other what they are about to run; a
  // mismatch is a RangeError on all of them instead of a Gloo abort.
  void check_agreement(Header mine) {
    mine.sequence = ++sequence;
    if (!check) return;
    const auto encoded = mine.encode();
    at::Tensor input = at::tensor(encoded, at::kLong);
    const size_t p = pairloss_ranks.size();
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (size_t i = 0; i < p; ++i) outputs[0].push_back(at::empty({kHeaderLength}, at::kLong));
    std::vector<at::Tensor> inputs{input};
    const std::string label = mine.label + " (shape check)";
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = check->allgather(outputs, inputs);
    } catch (const std::exception& e) {
      fail(label, message_of(e), false);
    }
    wait(work, label);

    bool same = true, in_step = true;
    std::vector<Header> all;
    for (size_t i = 0; i < p; ++i) {
      const int64_t* h = outputs[0][i].data_ptr<int64_t>();
      all.push_back(Header::decode(h));
      if (h[0] != kMagic) same = false;
      if (h[1] != encoded[1]) in_step = false;
      if (!std::equal(h + 2, h + kHeaderLength, encoded.begin() + 2)) same = false;
    }
    if (same && in_step) return;
    std::string list;
    for (size_t i = 0; i < p; ++i) {
      list += (i ? "; " : "") + std::string("rank ") + std::to_string(pairloss_ranks[i]) + ": " + all[i].describe();
      if (!in_step) list += " (collective #" + std::to_string(all[i].sequence) + ")";
    }
    std::string message = mine.label + ": the ranks disagree on this collective (every rank must make the same calls "
                          "in the same order, with tensors of the same shape and dtype): " + list;
    if (!in_step || pairloss_ranks.size() != static_cast<size_t>(options.world_size)) {
      // Out of step, or members that took no part in the check would wait
      // forever in the collective we skip: the group cannot go on.
      mark_broken(message, false);
      message += ". The process group is now broken";
    }
    throw_range_error(message);
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
    return t.detach().to(device, t.scalar_type(), /*non_blocking=*/false, /*copy=*/true).contiguous();
  }

  static void loop(std::shared_ptr<State> s) {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(s->queue_mutex);
        s->queue_cv.wait(lock, [&] { return !s->queue.empty() || s->stopping; });
        if (s->queue.empty()) return;
        task = std::move(s->queue.front());
        s->queue.pop_front();
      }
      try {
        task();
      } catch (...) {
        // Tasks report their own errors; nothing may escape the thread.
      }
      // Destroying the task here may release the last ProcessGroup.
      task = nullptr;
    }
  }
};

// ---------------------------------------------------------------------------
// Joining a group. The recipe of torch 1.13's
// torch.distributed.init_process_group(backend, init_method='tcp://host:port'
// or 'env://', rank, world_size, timeout), which a Python rank runs on its
// side of the same rendezvous:
//  1. _create_c10d_store: TCPStore(host, port, world_size, is_master=rank == 0,
//     timeout, multi_tenant=True). Rank 0 serves it; every rank adds 1 to the
//     "init/" key and rank 0 waits until world_size have (numWorkers).
//  2. store = PrefixStore("default_pg", store).
//  3. _new_process_group_helper: group name str(_group_count) = "0";
//     ProcessGroupGloo(PrefixStore("0", store), rank, world_size, timeout)
//     with the device that reaches the peers and 2 threads; Gloo's full-mesh
//     rendezvous runs through that store.
//  4. _store_based_barrier: add(f"store_based_barrier_key:{_group_count}", 1)
//     on the "default_pg" store (the count is 1 by then) and poll until it
//     reaches world_size.
//  5. pg._set_sequence_number_for_group(): rank 0 publishes a random sequence
//     number on the group's store and the others wait for it.
// pairloss adds, invisibly to Python: before the barrier each pairloss rank
// sets "pairloss/member/<rank>" on the "default_pg" store, so after it every
// pairloss rank knows which ranks are pairloss processes; those make a second
// Gloo group under PrefixStore("pairloss_check", ...) for the header check.

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
  parse_backend(backend_name(o.backend));  // available in this build?

  auto s = std::make_shared<State>();
  s->options = o;
  const std::string where = "ProcessGroup.init (rank " + std::to_string(o.rank) + " of " +
                            std::to_string(o.world_size) + ", " + o.host + ":" + std::to_string(o.port) + ")";
  try {
    // 1. the TCPStore (rank 0 serves it and waits for everyone)
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(o.port);
    store_options.isServer = o.rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(o.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = o.timeout;
    store_options.multiTenant = true;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    // torch 2.4 made the libuv server the default; Debian's LibTorch has no
    // libuv ("use_libuv was requested but PyTorch was build without libuv
    // support"). The classic server speaks the same protocol to clients.
    store_options.useLibUV = false;
#endif
    const auto deadline = Clock::now() + o.timeout;
    c10::intrusive_ptr<c10d::TCPStore> tcp;
    for (;;) {
      try {
        tcp = c10::make_intrusive<c10d::TCPStore>(o.host, store_options);
        break;
      } catch (const std::exception& e) {
        // c10d gives up on connecting up to a second before its timeout; keep
        // trying until ours, for ranks started well before rank 0
        const std::string what = message_of(e);
        const bool refused = o.rank != 0 && what.find("connect") != std::string::npos;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (!refused || left.count() <= 0) throw;
        std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(100)));
        store_options.timeout = std::max(std::chrono::milliseconds(1), left - std::chrono::milliseconds(100));
      }
    }
    tcp->setTimeout(o.timeout);
    // 2. the default group's prefix
    c10::intrusive_ptr<c10d::Store> base = c10::make_intrusive<c10d::PrefixStore>(o.store_prefix, tcp);
    base->set("pairloss/member/" + std::to_string(o.rank), bytes("1"));
    // 3. the group itself, under the group name "0"
#if TORCH_VERSION_MAJOR >= 2
    // torch 2.x: _new_process_group_helper nests PrefixStore(f"{group_name}/")
    // and then, per backend, PrefixStore(f"{device}/"): keys end up as
    // "default_pg/0//cpu//<gloo key>" ("cuda/" for NCCL).
    c10::intrusive_ptr<c10d::Store> group_store = c10::make_intrusive<c10d::PrefixStore>(
        o.backend == Backend::Gloo ? "cpu/" : "cuda/", c10::make_intrusive<c10d::PrefixStore>("0/", base));
#else
    c10::intrusive_ptr<c10d::Store> group_store = c10::make_intrusive<c10d::PrefixStore>("0", base);
#endif
    if (o.backend == Backend::Gloo) {
#ifdef PAIRLOSS_GLOO
      s->comm = make_gloo(group_store, o.rank, o.world_size, o);
#endif
    } else {
#ifdef PAIRLOSS_NCCL
      const int count = static_cast<int>(at::detail::getCUDAHooks().getNumGPUs());
      if (count < 1) throw_range_error("backend 'nccl' needs a CUDA device; none is visible");
      const int index = o.cuda_device >= 0 ? o.cuda_device : o.rank % count;
      if (index >= count) {
        throw_range_error("device cuda:" + std::to_string(index) + " does not exist: " + std::to_string(count) +
                          " CUDA device(s) visible");
      }
      s->device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = o.timeout;
      s->comm = c10::make_intrusive<c10d::ProcessGroupNCCL>(group_store, o.rank, o.world_size, nccl_options);
#endif
    }
    // 4. the store-based barrier (torch 2.x runs it only with TORCH_DIST_INIT_BARRIER=1)
#if TORCH_VERSION_MAJOR >= 2
    if (const char* b = std::getenv("TORCH_DIST_INIT_BARRIER"); b && std::string(b) == "1")
#endif
    store_based_barrier(*base, o.world_size, o.timeout);
    // 5. the sequence number handshake
    s->comm->setSequenceNumberForGroup();

    for (int r = 0; r < o.world_size; ++r) {
      if (base->check({"pairloss/member/" + std::to_string(r)})) s->pairloss_ranks.push_back(r);
    }
#ifdef PAIRLOSS_GLOO
    if (o.check_shapes && s->pairloss_ranks.size() > 1) {
      const auto me = std::find(s->pairloss_ranks.begin(), s->pairloss_ranks.end(), o.rank);
      s->check = make_gloo(c10::make_intrusive<c10d::PrefixStore>("pairloss_check", base),
                           static_cast<int>(me - s->pairloss_ranks.begin()),
                           static_cast<int>(s->pairloss_ranks.size()), o);
    }
#endif
    s->store = tcp;
  } catch (const ArgumentError&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = message_of(e);
    if (what.find("imed out") != std::string::npos || what.find("imeout") != std::string::npos) {
      what = "not every rank arrived within timeoutMs = " + std::to_string(o.timeout.count()) + " [" + what + "]";
    }
    throw GroupError(where + ": " + what);
  }

  auto group = std::shared_ptr<ProcessGroup>(new ProcessGroup(s));
  s->thread = std::thread(&State::loop, s);
  s->thread_id = s->thread.get_id();
  return group;
}

ProcessGroup::ProcessGroup(std::shared_ptr<State> state) : state_(std::move(state)) {}

ProcessGroup::~ProcessGroup() {
  {
    std::lock_guard<std::mutex> lock(state_->queue_mutex);
    state_->stopping = true;
  }
  state_->queue_cv.notify_all();
  if (state_->thread.joinable()) {
    if (std::this_thread::get_id() == state_->thread.get_id()) {
      state_->thread.detach();  // the thread ends after this task, holding the state
    } else {
      state_->thread.join();
    }
  }
}

int ProcessGroup::rank() const { return state_->options.rank; }
int ProcessGroup::world_size() const { return state_->options.world_size; }
Backend ProcessGroup::backend() const { return state_->options.backend; }
const std::vector<int>& ProcessGroup::pairloss_ranks() const { return state_->pairloss_ranks; }
at::Device ProcessGroup::device() const { return state_->device; }
std::string ProcessGroup::unusable_reason() const { return state_->unusable(); }
bool ProcessGroup::on_group_thread() const { return std::this_thread::get_id() == state_->thread_id; }

void ProcessGroup::submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(state_->queue_mutex);
    if (state_->stopping) throw GroupError("process group has been destroyed");
    state_->queue.push_back(std::move(task));
  }
  state_->queue_cv.notify_one();
}

void ProcessGroup::run(const std::function<void()>& task) {
  if (on_group_thread()) {
    task();
    return;
  }
  std::promise<void> done;
  auto future = done.get_future();
  submit([&task, &done] {
    try {
      task();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  future.get();
}

at::Tensor ProcessGroup::all_reduce(const at::Tensor& t, ReduceOp op, const std::string& label) {
  at::Tensor out;
  run([&] {
    State& s = *state_;
    s.throw_if_unusable();
    at::Tensor x = s.prepare(t, label.c_str());
    if (op == ReduceOp::Avg && !at::isFloatingType(x.scalar_type())) {
      throw_range_error(label + ": op 'avg' needs a floating tensor, got " + dtype_name(x.scalar_type()));
    }
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
      return s.comm->allreduce(tensors, options);
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
    at::Tensor x = s.prepare(t, label.c_str());
    Header h;
    h.kind = Kind::AllGather;
    h.dtype = x.scalar_type();
    h.sizes = x.sizes().vec();
    h.label = label;
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int i = 0; i < s.options.world_size; ++i) outputs[0].push_back(at::empty_like(x));
    s.execute(h, [&] {
      std::vector<at::Tensor> inputs{x};
      return s.comm->allgather(outputs, inputs);
    });
    out = at::stack(outputs[0]).to(t.device());
  });
  return out;
}

at::Tensor ProcessGroup::broadcast(const at::Tensor& t, int src, const std::string& label) {
  if (src < 0 || src >= world_size()) {
    throw_range_error(label + ": src must be a rank in [0, " + std::to_string(world_size() - 1) + "], got " +
                      std::to_string(src));
  }
  at::Tensor out;
  run([&] {
    State& s = *state_;
    s.throw_if_unusable();
    at::Tensor x = s.prepare(t, label.c_str());
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
      return s.comm->broadcast(tensors, options);
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
    s.execute(h, [&] { return s.comm->barrier(c10d::BarrierOptions()); });
  });
}

void ProcessGroup::destroy() {
  if (on_group_thread()) {
    // From a task: tear down now; the thread stops once the queue drains.
    {
      std::lock_guard<std::mutex> lock(state_->reason_mutex);
      if (state_->reason.empty()) state_->reason = "has been destroyed";
    }
    state_->teardown(false);
    std::lock_guard<std::mutex> lock(state_->queue_mutex);
    state_->stopping = true;
    return;
  }
  std::shared_ptr<State> s = state_;
  try {
    run([s] {
      {
        std::lock_guard<std::mutex> lock(s->reason_mutex);
        if (s->reason.empty()) s->reason = "has been destroyed";
      }
      s->teardown(false);
    });
  } catch (const GroupError&) {
    // already stopping
  }
  {
    std::lock_guard<std::mutex> lock(s->queue_mutex);
    s->stopping = true;
  }
  s->queue_cv.notify_all();
  if (s->thread.joinable()) s->thread.join();
}

// ---------------------------------------------------------------------------

at::Tensor mean_over_ranks(ProcessGroup* group, const at::Tensor& x, const std::string& label) {
  if (!group) return x;
  at::Tensor summed = group->all_reduce(x, ReduceOp::Sum, label);
  summed.div_(group->world_size());  // the seed: corr /= world_size
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
