#include "group_errors.h"

#include <c10/util/Exception.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace pairloss {

namespace {

std::mutex survival_mutex;
std::string survival_what;
std::terminate_handler previous_handler = nullptr;

[[noreturn]] void survive_gloo_terminate() {
  std::string what;
  if (std::exception_ptr current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
  }
  // only Gloo's TCP transport, thrown on its loop thread
  if (what.find("gloo/transport/tcp") != std::string::npos) {
    {
      std::lock_guard<std::mutex> lock(survival_mutex);
      if (survival_what.empty()) survival_what = what;
    }
    std::fprintf(stderr,
                 "pairloss: a peer sent Gloo a message that does not fit (%s); PAIRLOSS_GLOO_SURVIVE=1: Gloo's transport "
                 "thread stops here instead of aborting the process, and the group's pending collective fails after "
                 "timeoutMs\n",
                 what.c_str());
    for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
  }
  if (previous_handler) previous_handler();
  std::abort();
}

}  // namespace

void install_gloo_survival() {
  static std::once_flag once;
  const char* opt = std::getenv("PAIRLOSS_GLOO_SURVIVE");
  if (!opt || std::string(opt) != "1") return;
  std::call_once(once, [] { previous_handler = std::set_terminate(survive_gloo_terminate); });
}

std::string gloo_transport_failure() {
  std::lock_guard<std::mutex> lock(survival_mutex);
  return survival_what;
}

std::string ms_string(std::chrono::milliseconds t) { return std::to_string(t.count()) + " ms"; }

std::string message_of(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

bool says_timed_out(const std::string& what) {
  return what.find("imed out") != std::string::npos || what.find("imeout") != std::string::npos;
}

bool says_collective_stuck(const std::string& what) { return what.find("Operation timed out") != std::string::npos; }

bool says_connect_failed(const std::string& what) { return what.find("connect") != std::string::npos; }

std::string failure_cause(const std::string& what, std::chrono::milliseconds timeout) {
  if (what.find("closed by peer") != std::string::npos || what.find("Connection reset") != std::string::npos ||
      what.find("Broken pipe") != std::string::npos || what.find("Connection refused") != std::string::npos) {
    return "a peer rank closed its connection (its process exited or crashed, or it left the group after an error "
           "of its own)";
  }
  if (says_timed_out(what)) {
    return "timed out after " + ms_string(timeout) + " waiting for a peer rank (a rank is alive but did not take part)";
  }
  return "the collective failed";
}

std::string rendezvous_failure(const std::string& what, std::chrono::milliseconds timeout) {
  if (says_timed_out(what)) {
    return "not every rank arrived within timeoutMs = " + std::to_string(timeout.count()) + " [" + what + "]";
  }
  // Gloo's full-mesh rendezvous: a peer's address blob of another length than
  // this rank's (each rank publishes the addresses of its W pairs)
  if (what.find("address.cc") != std::string::npos && what.find("sizeof(impl_) == bytes.size()") != std::string::npos) {
    return "the ranks disagree on the world size (or run another Gloo build): a peer's connection address did not "
           "decode as this rank's does. Every rank must be started with the same worldSize [" + what + "]";
  }
  return what;
}

}  // namespace pairloss
