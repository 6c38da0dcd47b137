#include "rendezvous.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <dirent.h>
#include <linux/filter.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef PAIRLOSS_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef PAIRLOSS_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "errors.h"
#include "group_errors.h"

namespace pairloss {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

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

// What a probe of the store's port found.
enum class Probe { Answered, Refused };

// A socket closed when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Waits until `fd` is ready for `events` or the deadline passes (false then).
bool wait_ready(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int r = poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return true;  // the next call reports the error
  }
}

// Asks the program at host:port one question of c10d's TCPStore protocol
// (torch 1.13: CHECK of one key, answered by one byte, 0 ready or 1 not
// ready), every wait bounded by `deadline`, every read bounded in size.
// c10d's own client reads a length from the wire and allocates it (a
// program that answers with garbage ends the process with std::length_error
// or std::bad_alloc, on a thread where nothing can catch it) and waits for an
// answer without a timeout (a program that accepts and never answers hangs
// it): this question is asked first, by code that can fail cleanly.
// Refused when nothing listens yet; throws GroupError when something does
// but does not answer as a store.
Probe probe_store(const std::string& host, int port, Clock::time_point deadline, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || found == nullptr) {
    return Probe::Refused;  // c10d reports the name itself
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(found, freeaddrinfo);
  const std::string where = host + ":" + std::to_string(port);
  for (int family : {AF_INET, AF_INET6}) {
    for (addrinfo* a = found; a; a = a->ai_next) {
      if (a->ai_family != family) continue;
      Fd s;
      s.fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (s.fd < 0) continue;
      if (::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) continue;
        if (!wait_ready(s.fd, POLLOUT, deadline)) {
          throw GroupError("no connection to the store at " + where + " within timeoutMs = " + std::to_string(timeout.count()));
        }
        int error = 0;
        socklen_t len = sizeof(error);
        if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) continue;
      }
      // QueryType::CHECK (4), one key: uint64 count, uint64 length, the bytes
      const std::string key = "pairloss/probe";
      std::vector<uint8_t> query{4};
      auto put64 = [&query](uint64_t v) {
        for (int i = 0; i < 8; ++i) query.push_back(static_cast<uint8_t>(v >> (8 * i)));
      };
      put64(1);
      put64(key.size());
      query.insert(query.end(), key.begin(), key.end());
      size_t sent = 0;
      while (sent < query.size()) {
        if (!wait_ready(s.fd, POLLOUT, deadline)) {
          throw GroupError("the program at " + where + " took no request within timeoutMs = " + std::to_string(timeout.count()));
        }
        const ssize_t n = send(s.fd, query.data() + sent, query.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) throw GroupError("the program at " + where + " closed the connection to the rendezvous store at once");
        sent += static_cast<size_t>(n);
      }
      uint8_t answer[16];
      ssize_t got = -1;
      for (;;) {
        if (!wait_ready(s.fd, POLLIN, deadline)) {
          throw GroupError("the program listening at " + where + " accepted the connection but did not answer as a "
                           "c10d rendezvous store within timeoutMs = " + std::to_string(timeout.count()) +
                           " (is it rank 0's MASTER_PORT, and is rank 0 alive and not stopped?)");
        }
        got = recv(s.fd, answer, sizeof(answer), 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        break;
      }
      if (got <= 0) {
        throw GroupError("the program at " + where + " closed the connection without answering as a c10d rendezvous store does");
      }
      if (got != 1 || answer[0] > 1) {
        char first[8];
        std::snprintf(first, sizeof(first), "0x%02x", answer[0]);
        throw GroupError("the program at " + where + " is not a c10d rendezvous store: it answered " + std::to_string(got) +
                         " byte(s) starting " + first + " where a store answers one byte, 0 or 1 (another program on that port?)");
      }
      // more bytes behind the answer: not a store either
      if (recv(s.fd, answer, sizeof(answer), MSG_DONTWAIT) > 0) {
        throw GroupError("the program at " + where + " is not a c10d rendezvous store: it sent more than the one byte a store answers");
      }
      return Probe::Answered;
    }
  }
  return Probe::Refused;
}

#ifdef PAIRLOSS_GLOO
// The addresses `host` names (IPv4 and IPv6, as raw bytes), or none for a
// wildcard ("0.0.0.0", "::") or a name that does not resolve.
struct Allowed {
  std::vector<uint32_t> v4;                  // host order
  std::vector<std::array<uint32_t, 4>> v6;   // host order, word by word
  bool empty() const { return v4.empty() && v6.empty(); }
};

Allowed addresses_of(const std::string& host) {
  Allowed out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return out;
  for (addrinfo* a = found; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      const uint32_t v = ntohl(reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr.s_addr);
      if (v == 0) return Allowed{};  // INADDR_ANY: every interface was asked for
      out.v4.push_back(v);
    } else if (a->ai_family == AF_INET6) {
      const uint8_t* b = reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr.s6_addr;
      std::array<uint32_t, 4> w{};
      bool any = true;
      for (int i = 0; i < 4; ++i) {
        w[i] = (uint32_t(b[4 * i]) << 24) | (uint32_t(b[4 * i + 1]) << 16) | (uint32_t(b[4 * i + 2]) << 8) | b[4 * i + 3];
        any = any && w[i] == 0;
      }
      if (any) return Allowed{};  // in6addr_any
      out.v6.push_back(w);
    }
  }
  freeaddrinfo(found);
  return out;
}

// A classic BPF socket filter that drops every packet whose destination is
// not one of `allowed` (the SYN of a connection to another address of this
// host never reaches the listening socket: the connect times out, as if
// nothing listened there).
std::vector<sock_filter> destination_filter(const Allowed& allowed) {
  // 0: A = protocol; 1: IPv4 -> v4_at; 2: IPv6 -> v6_at, else drop
  // v4_at: A = IPv4 destination (IP header byte 16); one jeq per address -> accept; drop
  // v6_at: per address, 4 x (A = destination word (byte 24 + 4i); jeq, else the next address); drop; accept
  // (jt/jf count the instructions skipped after the jump)
  const uint32_t net = static_cast<uint32_t>(SKF_NET_OFF);
  const size_t n4 = allowed.v4.size(), n6 = allowed.v6.size();
  const size_t v4_at = 3, v6_at = v4_at + 1 + n4 + 1, drop_at = v6_at + 8 * n6, accept_at = drop_at + 1;
  std::vector<sock_filter> f(accept_at + 1);
  auto off = [](size_t from, size_t to) { return static_cast<uint8_t>(to - from - 1); };
  f[0] = BPF_STMT(BPF_LD | BPF_H | BPF_ABS, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL));
  f[1] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, off(1, v4_at), 0);
  f[2] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x86DD, off(2, v6_at), off(2, drop_at));
  f[v4_at] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net + 16);
  for (size_t k = 0; k < n4; ++k) {
    const size_t pc = v4_at + 1 + k;
    f[pc] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, allowed.v4[k], off(pc, accept_at), 0);
  }
  f[v4_at + 1 + n4] = BPF_STMT(BPF_RET | BPF_K, 0);
  for (size_t j = 0; j < n6; ++j) {
    const size_t next_address = v6_at + 8 * (j + 1);
    for (size_t i = 0; i < 4; ++i) {
      const size_t pc = v6_at + 8 * j + 2 * i;
      f[pc] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net + 24 + 4 * static_cast<uint32_t>(i));
      f[pc + 1] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, allowed.v6[j][i], static_cast<uint8_t>(i == 3 ? off(pc + 1, accept_at) : 0),
                           off(pc + 1, next_address));
    }
  }
  f[drop_at] = BPF_STMT(BPF_RET | BPF_K, 0);
  f[accept_at] = BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
  return f;
}

// Debian's LibTorch 1.13 TCPStore server listens on every interface (its
// Socket::listen binds the wildcard address; TCPStoreOptions has no address
// and no listening fd to pass in). What can be done from outside: find that
// listening socket in this process and attach a socket filter that drops
// connections to any address but `host`'s. Returns how many sockets got it.
int restrict_store_listener(const std::string& host, int port) {
  const Allowed allowed = addresses_of(host);
  if (allowed.empty() || allowed.v4.size() + allowed.v6.size() > 8) return 0;
  std::vector<sock_filter> code = destination_filter(allowed);
  sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
  int attached = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  while (dirent* e = readdir(dir)) {
    const int fd = std::atoi(e->d_name);
    if (fd <= 2 || fd == dirfd(dir)) continue;
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage local{};
    socklen_t llen = sizeof(local);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) != 0) continue;
    int bound_port = -1;
    bool wildcard = false;
    if (local.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&local);
      bound_port = ntohs(a->sin_port);
      wildcard = a->sin_addr.s_addr == htonl(INADDR_ANY);
    } else if (local.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&local);
      bound_port = ntohs(a->sin6_port);
      wildcard = IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
    }
    if (bound_port != port || !wildcard) continue;
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) == 0) ++attached;
  }
  closedir(dir);
  return attached;
}

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
      throw GroupError("timed out after " + ms_string(timeout) + " in the store-based barrier: " +
                       std::to_string(count) + " of " + std::to_string(world_size) + " ranks arrived");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    count = store.add(key, 0);
  }
}

// 1. of the recipe: the TCPStore, rank 0 serving it (with an agent's store,
// every rank a client). Clients started well before the server keep trying
// to connect until the timeout.
c10::intrusive_ptr<c10d::TCPStore> connect_store(const ProcessGroupOptions& o) {
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(o.port);
  store_options.isServer = !o.agent_store && o.rank == 0;
  store_options.numWorkers = static_cast<std::size_t>(o.world_size);
#if TORCH_VERSION_MAJOR < 2
  // rank 0 returns at once, so that its listener is restricted before the
  // others connect; torch 1.13 always runs the store-based barrier, which
  // waits for every rank
  store_options.waitWorkers = o.agent_store || o.rank != 0;
#else
  store_options.waitWorkers = true;
#endif
  store_options.timeout = o.timeout;
  store_options.multiTenant = !o.agent_store;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  // torch 2.4 made the libuv server the default; Debian's LibTorch has no
  // libuv ("use_libuv was requested but PyTorch was build without libuv
  // support"). The classic server speaks the same protocol to clients.
  store_options.useLibUV = false;
#endif
  const auto deadline = Clock::now() + o.timeout;
#if TORCH_VERSION_MAJOR < 2
  // A client asks the store one question of its own first (probe_store): a
  // port held by another program is then an Error, not an abort or a hang.
  // (torch 2.x's protocol differs: its client validates the server itself.)
  if (!store_options.isServer) {
    while (probe_store(o.host, o.port, deadline, o.timeout) == Probe::Refused) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;  // c10d's own connect says it was refused
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(100)));
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    store_options.timeout = std::max(std::chrono::milliseconds(1), left);
  }
#endif
  for (;;) {
    try {
      auto tcp = c10::make_intrusive<c10d::TCPStore>(o.host, store_options);
      tcp->setTimeout(o.timeout);
#if TORCH_VERSION_MAJOR < 2
      // The server listens on *:port; only connections to `host` get through
      // (restrict_store_listener). Attached before any rank is waited for:
      // the server does not wait for its workers (the store-based barrier
      // below waits for every rank).
      // PAIRLOSS_STORE_ANY_ADDRESS=1 leaves it open (a port forwarded to
      // this host under another address, e.g. Docker's -p).
      const char* any = std::getenv("PAIRLOSS_STORE_ANY_ADDRESS");
      if (store_options.isServer && !(any && std::string(any) == "1")) restrict_store_listener(o.host, o.port);
#endif
      return tcp;
    } catch (const std::exception& e) {
      // c10d gives up on connecting up to a second before its timeout; keep
      // trying until ours
      const bool refused = !store_options.isServer && says_connect_failed(message_of(e));
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (!refused || left.count() <= 0) throw;
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(100)));
      store_options.timeout = std::max(std::chrono::milliseconds(1), left - std::chrono::milliseconds(100));
    }
  }
}

}  // namespace

std::string agent_store_prefix(int restart_count) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 6)
  // torch 2.6 (pytorch/pytorch#135957): the agent serves a new store for
  // every attempt, and the worker uses it without a prefix.
  (void)restart_count;
  return "";
#else
  // torch 1.13 to 2.5, _create_c10d_store: PrefixStore(f"/worker/attempt_{attempt}", TCPStore(..., is_master=False)).
  return "/worker/attempt_" + std::to_string(restart_count);
#endif
}

// ---------------------------------------------------------------------------
// The recipe of torch 1.13's torch.distributed.init_process_group(backend,
// init_method='tcp://host:port' or 'env://', rank, world_size, timeout),
// which a Python rank runs on its side of the same rendezvous:
//  1. _create_c10d_store: TCPStore(host, port, world_size, is_master=rank == 0,
//     timeout, multi_tenant=True). Rank 0 serves it; every rank adds 1 to the
//     "init/" key and rank 0 waits until world_size have (numWorkers).
//     Under torchrun's static rendezvous (TORCHELASTIC_USE_AGENT_STORE=True)
//     the agent already serves a store at MASTER_ADDR:MASTER_PORT: every
//     rank is a client, and the store is PrefixStore(agent_store_prefix(
//     TORCHELASTIC_RESTART_COUNT), client), so that a restarted attempt's
//     keys never meet the last attempt's.
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

Rendezvous rendezvous(const ProcessGroupOptions& o) {
  Rendezvous r;
  // 1. the TCPStore
  c10::intrusive_ptr<c10d::TCPStore> tcp = connect_store(o);
  c10::intrusive_ptr<c10d::Store> root = tcp;
  if (o.agent_store) {
    const std::string attempt = agent_store_prefix(o.restart_count);
    if (!attempt.empty()) root = c10::make_intrusive<c10d::PrefixStore>(attempt, root);
  }
  // 2. the default group's prefix
  c10::intrusive_ptr<c10d::Store> base = c10::make_intrusive<c10d::PrefixStore>(o.store_prefix, root);
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
    r.comm = make_gloo(group_store, o.rank, o.world_size, o);
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
    r.device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = o.timeout;
    r.comm = c10::make_intrusive<c10d::ProcessGroupNCCL>(group_store, o.rank, o.world_size, nccl_options);
#endif
  }
  // 4. the store-based barrier (torch 2.x runs it only with TORCH_DIST_INIT_BARRIER=1)
#if TORCH_VERSION_MAJOR >= 2
  if (const char* b = std::getenv("TORCH_DIST_INIT_BARRIER"); b && std::string(b) == "1")
#endif
  store_based_barrier(*base, o.world_size, o.timeout);
  // 5. the sequence number handshake
  r.comm->setSequenceNumberForGroup();

  for (int rank = 0; rank < o.world_size; ++rank) {
    if (base->check({"pairloss/member/" + std::to_string(rank)})) r.pairloss_ranks.push_back(rank);
  }
#ifdef PAIRLOSS_GLOO
  if (o.check_shapes && r.pairloss_ranks.size() > 1) {
    const auto me = std::find(r.pairloss_ranks.begin(), r.pairloss_ranks.end(), o.rank);
    r.check = make_gloo(c10::make_intrusive<c10d::PrefixStore>("pairloss_check", base),
                        static_cast<int>(me - r.pairloss_ranks.begin()), static_cast<int>(r.pairloss_ranks.size()), o);
  }
#endif
  r.store = tcp;
  return r;
}

}  // namespace pairloss
