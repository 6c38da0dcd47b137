// The one grain size of the CPU kernels' at::parallel_for loops.
#pragma once

#include <algorithm>
#include <cstdint>

namespace pairloss {

// Items per parallel task, so that a task holds at least ~256k elements
// (`per_item` each): waking a pool thread costs tens of microseconds on a VM,
// more than a smaller task.
inline int64_t grain(int64_t per_item) { return std::max<int64_t>(1, 262144 / std::max<int64_t>(per_item, 1)); }

// A finer grain (~64k elements, still ~100 µs or more of work per task) for
// the passes that cost several nanoseconds an element (the symmetric cross
// entropy's exp pass and its gradient pass), so that the 512 x 512 matrix of
// a batch of 512 splits over two threads instead of running on one.
inline int64_t fine_grain(int64_t per_item) { return std::max<int64_t>(1, 65536 / std::max<int64_t>(per_item, 1)); }

}  // namespace pairloss
