// Small async computations on a thread of the event loop's own (one per
// environment: the main thread's, each worker's), on the CPU the JS thread
// runs on.
//
// Why: on a virtual machine a libuv pool thread is usually woken on the
// other, idle vCPU, and so is the event loop when the result is back; each
// wake-up of a halted vCPU waits for the hypervisor. Measured on the 2-vCPU
// VM: a 32x128 N-pairs call took ~170 us async on the pool against ~30 us
// sync; the same process pinned to one CPU, ~70 us.
//
// How: the thread runs at SCHED_IDLE, pinned to the CPU the JS thread is on
// when it hands calls over -- in a libuv prepare callback, just before the
// loop blocks for events. It never preempts the JS thread: it computes while
// the loop waits (the loop thread is never blocked by it; a CPU running only
// it counts as idle, so any event wakes the loop thread there at once).
// Results come back through a pipe the loop watches. No wake-up crosses CPUs.
//
// Only calls whose tensors all hold fewer than LibTorch's parallel grain
// (32768 elements) come here: nothing they run opens a parallel region, so
// no OpenMP team is ever created from this thread (threads would inherit
// its CPU affinity). If another process holds that CPU, a SCHED_IDLE thread
// gets a turn only every ~100 ms: a watchdog (2 ms after the hand-over)
// then brings in a second, ordinary thread for 100 ms. PAIRLOSS_ASYNC_AFFINE=0
// sends every call to the libuv pool.
#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>

namespace pairloss_binding {

// Whether this build has the affine thread (it needs libuv's header).
bool affine_compiled();

// affineStats(): { compiled, enabled, calls, nudged } -- calls that took the
// thread, and how often a waiting call brought in the ordinary one (tests).
void init_affine(Napi::Env env, Napi::Object exports);

// True when a computation whose largest tensor has `elements` elements should
// take the affine thread (and PAIRLOSS_ASYNC_AFFINE is not 0).
bool affine_eligible(std::initializer_list<int64_t> elements);

// Queues `work` on the affine thread; the Promise settles with finish(env)
// on the JS thread (or rejects with what work threw). Empty when this
// environment cannot have one (no event loop or pipe): use the pool.
std::optional<Napi::Promise> start_affine(Napi::Env env, std::function<void()> work,
                                          std::function<Napi::Value(Napi::Env)> finish);

}  // namespace pairloss_binding
