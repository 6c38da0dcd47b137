// The header the pairloss members of a group exchange before each
// collective (one all-gather of int64s on a Gloo group of their own): what
// each is about to run (kind, reduce op or source rank, dtype, shape, a
// label) and its collective count. Equal headers: the collective runs.
// Otherwise every member sees every header and can say which ranks disagree
// and how, instead of Gloo aborting the process on a size mismatch.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "process_group_options.h"

namespace pairloss {

// Rejected: this rank refused its own arguments to the collective the others
// are about to run (the reason goes with it); every member skips it.
enum class Kind : int64_t { AllReduce = 1, AllGather = 2, Broadcast = 3, Barrier = 4, Rejected = 5, RingShift = 6 };

// [magic, sequence, kind, arg, dtype, ndim, dims x8, dims hash, label x8, reason x16]
constexpr int kHeaderLength = 6 + 8 + 1 + 8 + 16;

struct Header {
  int64_t sequence = 0;
  Kind kind = Kind::AllReduce;
  int64_t arg = 0;  // reduce op or source rank
  at::ScalarType dtype = at::kFloat;
  std::vector<int64_t> sizes;
  std::string label;
  // Rejected only: why (the first 128 bytes).
  std::string reason;

  std::vector<int64_t> encode() const;
  static Header decode(const int64_t* h);
  // e.g. "allReduce(sum) float32 [4, 8]".
  std::string describe() const;
};

// Where the members' headers do not match `mine` (encoded): `agree` when
// every header is the same collective at the same count.
struct Agreement {
  bool agree = true;
  // All at the same collective count (else the group is out of step).
  bool in_step = true;
  // Which rank runs what, for the error ("rank 0: ...; rank 1: ...").
  std::string list;
  // Members that rejected their arguments: "rank 1 (RangeError: ...)"; empty if none.
  std::string rejected;
};

// `headers[i]`: the header of member `ranks[i]`.
Agreement compare_headers(const std::vector<int64_t>& mine, const std::vector<const int64_t*>& headers,
                          const std::vector<int>& ranks);

std::string dtype_name(at::ScalarType t);
std::string shape_string(c10::IntArrayRef sizes);
const char* reduce_op_name(ReduceOp op);

}  // namespace pairloss
