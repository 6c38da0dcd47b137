// ce_kernels.h's kernels compiled for AVX2 + FMA; run() calls them only where
// the CPU has both. The target is set by pragma after every header is in, so
// that only this file's own functions use AVX2: inline library code
// instantiated here (std::vector, ATen) keeps the baseline target and cannot
// leak AVX2 instructions into the rest of the library through the linker.
#if defined(__x86_64__)
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "ce_kernels.h"
#include "parallel.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define PAIRLOSS_CE_NS avx2
#define PAIRLOSS_CE_AVX2 1
#include "ce_kernels_impl.h"
#include "ce_kernels_normalize_impl.h"
#pragma GCC pop_options
#else
// Not x86-64: the baseline code under this name (never chosen).
#define PAIRLOSS_CE_NS avx2
#define PAIRLOSS_CE_AVX2 0
#include "ce_kernels_impl.h"
#include "ce_kernels_normalize_impl.h"
namespace pairloss::ce::avx2 {
bool have_sleef() { return false; }
}  // namespace pairloss::ce::avx2
#endif
