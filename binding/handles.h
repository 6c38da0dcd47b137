// Native tensor handles: a type-tagged External owning an at::Tensor that
// stays in native memory -- on a CUDA device, or on the CPU ("resident", the
// internal mode that tests the same machinery without a GPU). JS sees
// { handle, shape, dtype, device }. The memory is freed by tensorDispose (at
// once) or by the External's finalizer after GC, whichever comes first.
// Handles are immutable from JS: data goes out only as copies (tensorToHost).
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>
#include <string>

namespace pairloss_binding {

// One handle's tensor. Every handle's bytes are reported to V8 as external
// memory, device memory too: V8 cannot free it by itself, but a GC then runs
// as it grows, which bounds what code that never calls dispose() holds.
struct HandleState {
  at::Tensor tensor;  // undefined once freed
  int64_t bytes = 0;
  bool host = false;  // in host memory (a resident CPU tensor)
};

// The handle behind `value` (the External itself, or an object's `handle`
// property), or nullptr when value carries none. A `handle` that is not one
// of ours is a TypeError naming `name`.
HandleState* handle_state(const Napi::Value& value, const std::string& name);

// The live tensor of a handle, or a RangeError "<name>: the tensor has been disposed".
const at::Tensor& live_tensor(Napi::Env env, HandleState* h, const std::string& name);

// Frees the handle's tensor now (dispose, or the finalizer); again is a no-op. Never throws.
void release(napi_env env, HandleState* h) noexcept;

// Hands `state` to a new External, counts it, and returns { handle, shape, dtype, device }.
Napi::Object wrap_handle(Napi::Env env, HandleState* state);

// True if `value` is a handle or an object carrying one in `handle`.
bool is_handle(const Napi::Value& value);

// Whether a call's results go back as handles: when computed on a device other
// than the CPU, or on the CPU with a resident CPU handle among `inputs`.
bool results_resident(const at::Device& device, const std::vector<Napi::Value>& inputs);

// A new handle over t. t is cloned (on its device) unless it owns its memory
// alone, so that disposing one handle frees memory no other handle or JS
// buffer shares. Non-float results become float32.
Napi::Object handle_to_js(Napi::Env env, at::Tensor t);

// True when t can be handed to one owner (an external ArrayBuffer, a handle)
// without sharing memory with anyone: contiguous, the whole of its storage,
// the storage's only tensor, and memory with an owner (a storage without a
// context is at::from_blob over someone else's memory, e.g. a JS input).
bool owns_memory_alone(const at::Tensor& t);

// The sizes as a JS array of numbers.
Napi::Array shape_to_js(Napi::Env env, at::IntArrayRef sizes);

// Process-wide counts for leak tests: handles made, freed (dispose or GC),
// bytes still held (any device) and those of them in host memory.
struct HandleCounts {
  int64_t created, freed, bytes, host_bytes;
};
HandleCounts handle_counts();

}  // namespace pairloss_binding
