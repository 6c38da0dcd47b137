// The grain sizes of the CPU kernels' at::parallel_for loops, and their tasks' column sums merged in row order.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

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

// Column sums over rows [0, n) in at::parallel_for tasks: body(begin, end,
// cs, cu) adds rows [begin, end)'s contributions to column sums of its own
// (m doubles each, zeroed), which are then added to cs and cu in the order
// of the tasks' rows, not of their completion, so that the result does not
// depend on timing.
template <typename Body>
void parallel_column_sums(int64_t n, int64_t grain_size, int64_t m, double* cs, double* cu, const Body& body) {
  struct Part {
    int64_t begin;
    std::vector<double> cs, cu;
  };
  std::vector<Part> parts;
  std::mutex mutex;
  at::parallel_for(0, n, grain_size, [&](int64_t begin, int64_t end) {
    std::vector<double> pcs(static_cast<size_t>(m), 0.0), pcu(static_cast<size_t>(m), 0.0);
    body(begin, end, pcs.data(), pcu.data());
    std::lock_guard<std::mutex> lock(mutex);
    parts.push_back(Part{begin, std::move(pcs), std::move(pcu)});
  });
  std::sort(parts.begin(), parts.end(), [](const Part& x, const Part& y) { return x.begin < y.begin; });
  for (const Part& part : parts) {
    const double* pcs = part.cs.data();
    const double* pcu = part.cu.data();
    for (int64_t j = 0; j < m; ++j) {
      cs[j] += pcs[j];
      cu[j] += pcu[j];
    }
  }
}

// K scalar sums over rows [0, n) in at::parallel_for tasks: body(begin, end)
// returns rows [begin, end)'s K partial sums, which are added from zero in
// the order of the tasks' rows, not of their completion (one task: its own
// sums, as a single loop would give them).
template <size_t K, typename Body>
std::array<double, K> parallel_sums(int64_t n, int64_t grain_size, const Body& body) {
  std::vector<std::pair<int64_t, std::array<double, K>>> parts;
  std::mutex mutex;
  at::parallel_for(0, n, grain_size, [&](int64_t begin, int64_t end) {
    const std::array<double, K> part = body(begin, end);
    std::lock_guard<std::mutex> lock(mutex);
    parts.emplace_back(begin, part);
  });
  std::sort(parts.begin(), parts.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::array<double, K> total{};
  for (const auto& part : parts) {
    for (size_t k = 0; k < K; ++k) total[k] += part.second[k];
  }
  return total;
}

}  // namespace pairloss
