// N-pairs (cosine similarity) over row blocks, for N x M similarity matrices
// too large to hold: the same numbers as the fused kernel (fused.cpp) and as
// PyTorch, in O(block x M) memory beyond the inputs and gradients, from the
// same building blocks (ce_kernels.h). Each block of rows is recomputed from
// the normalised embeddings, as open_clip does with one block per rank: the
// row-wise cross entropy is complete within a block (the shared row kernel),
// the column-wise one (symmetric) gathers its log-sum-exp across blocks, and
// a second pass forms each block again and its gradient: with index targets
// and no label smoothing as the fused kernel does, one shift for every exp
// (ce_kernels.h's symmetric_block_sums/_grad), otherwise, or where that
// shift underflows, with an online maximum per column and rescaled sums.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

#include "npairs_options.h"

namespace pairloss {

struct ChunkingSettings {
  // Rows per block (default 0, or PAIRLOSS_CHUNK_ROWS at load); 0: as many
  // as fit in ~32 MiB of one block matrix.
  int64_t rows = 0;
  // The chunked path is taken when N * M * element size exceeds this many
  // bytes (default 256 MiB, or PAIRLOSS_CHUNK_BYTES at load); 0: always;
  // negative: never.
  int64_t budget_bytes = 0;
  // Calls that took the chunked path since load (for tests and the bench).
  int64_t calls = 0;
};

ChunkingSettings chunking();
// Negative `rows` is refused (RangeError); `budget_bytes` as above.
void set_chunking(int64_t rows, int64_t budget_bytes);

// Whether an N x M similarity matrix of `element_size`-byte numbers is too
// large to hold under the current settings.
bool chunking_wanted(int64_t n, int64_t m, int64_t element_size);

// Rows per block for an N x M matrix of `element_size`-byte numbers: the
// setting, or as many as fit in ~32 MiB of one block matrix.
int64_t chunked_rows(int64_t m, int64_t element_size);
// Counts a call that took a chunked path in chunking().calls (sigmoid_loss's
// row blocks, one count per ring block under a group; npairs_chunked counts
// its own).
void count_chunked_call();

// Same contract as npairs_fused (CPU, float32/float64, cosine similarity,
// target already checked; return_similarity is not supported). Empty when
// the inputs need the reference path (a row with norm < eps).
std::optional<NpairsResult> npairs_chunked(const at::Tensor& x1, const at::Tensor& x2, const at::Tensor& target,
                                           const NpairsOptions& options);

// The same computation, not counted in chunking().calls: the fused path's
// answer where one shift of the logits for rows and columns would underflow
// (per-row and per-column maxima here).
std::optional<NpairsResult> npairs_blocks(const at::Tensor& x1, const at::Tensor& x2, const at::Tensor& target,
                                          const NpairsOptions& options);

}  // namespace pairloss
