// Why a collective or a rendezvous failed, in words: c10d and Gloo report
// faults only as English text ("Connection closed by peer", "Timed out
// waiting ..."), so the cause is read from that text. Every such match lives
// here, so that a LibTorch whose wording changes needs one place fixed.
#pragma once

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>

namespace pairloss {

// A collective that failed or a group that can no longer be used. The
// binding turns it into a plain Error with this message.
class GroupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "<n> ms".
std::string ms_string(std::chrono::milliseconds t);
// The message of `e` (a c10::Error without its backtrace).
std::string message_of(const std::exception& e);

// c10d's or Gloo's text says a timeout passed.
bool says_timed_out(const std::string& what);
// Gloo's text for a collective that timed out while a Gloo thread still holds
// it (its teardown must not block the caller).
bool says_collective_stuck(const std::string& what);
// c10d's text for a refused or failed connect (a store not yet listening).
bool says_connect_failed(const std::string& what);

// The cause of a failed collective in words, from Gloo's text: a peer that
// closed its connection, a timeout after `timeout`, or just "the collective
// failed".
std::string failure_cause(const std::string& what, std::chrono::milliseconds timeout);
// A failed rendezvous, explained: a timeout says that not every rank arrived.
std::string rendezvous_failure(const std::string& what, std::chrono::milliseconds timeout);

// PAIRLOSS_GLOO_SURVIVE=1 (opt-in, read at the first group's creation):
// installs a std::terminate handler that, for an exception thrown by Gloo's
// TCP transport on its own event-loop thread (a peer's message that does not
// fit, `op.preamble.length <= op.nbytes`: an uncatchable gloo::EnforceNotMet
// there), records it and parks that thread forever instead of aborting the
// process. The group's pending collective then fails after its timeout (the
// parked thread and the group's memory are leaked). Any other exception goes
// to the previous handler (abort).
void install_gloo_survival();
// What the handler above caught, or "" (for the collective's error message).
std::string gloo_transport_failure();

}  // namespace pairloss
