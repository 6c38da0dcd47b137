#include "group_errors.h"

#include <c10/util/Exception.h>

namespace pairloss {

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
