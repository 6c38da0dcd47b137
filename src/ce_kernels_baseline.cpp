// ce_kernels.h's kernels for any x86-64 (or other) CPU, and the run-time choice
// between this build and the AVX2 one.
#define PAIRLOSS_CE_NS baseline
#define PAIRLOSS_CE_AVX2 0
#include "ce_kernels_impl.h"
#include "ce_kernels_normalize_impl.h"

namespace pairloss::ce {

namespace {
bool use_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
#else
  return false;
#endif
}
}  // namespace

Result run(float* S, float* G, const Problem& p) { return use_avx2() ? avx2::run(S, G, p) : baseline::run(S, G, p); }
Result run(double* S, double* G, const Problem& p) { return use_avx2() ? avx2::run(S, G, p) : baseline::run(S, G, p); }

SigmoidResult sigmoid_run(float* S, float* G, const SigmoidProblem& p) {
  return use_avx2() ? avx2::sigmoid_run(S, G, p) : baseline::sigmoid_run(S, G, p);
}
SigmoidResult sigmoid_run(double* S, double* G, const SigmoidProblem& p) {
  return use_avx2() ? avx2::sigmoid_run(S, G, p) : baseline::sigmoid_run(S, G, p);
}

void symmetric_block_sums(const float* S, int64_t b, int64_t m, double t, double* rs, double* ru, double* cs, double* cu) {
  use_avx2() ? avx2::symmetric_block_sums(S, b, m, t, rs, ru, cs, cu) : baseline::symmetric_block_sums(S, b, m, t, rs, ru, cs, cu);
}
void symmetric_block_sums(const double* S, int64_t b, int64_t m, double t, double* rs, double* ru, double* cs, double* cu) {
  use_avx2() ? avx2::symmetric_block_sums(S, b, m, t, rs, ru, cs, cu) : baseline::symmetric_block_sums(S, b, m, t, rs, ru, cs, cu);
}
void symmetric_block_grad(float* S, int64_t b, int64_t m, double t, const double* a, const double* bc, const int64_t* index,
                          double w) {
  use_avx2() ? avx2::symmetric_block_grad(S, b, m, t, a, bc, index, w) : baseline::symmetric_block_grad(S, b, m, t, a, bc, index, w);
}
void symmetric_block_grad(double* S, int64_t b, int64_t m, double t, const double* a, const double* bc, const int64_t* index,
                          double w) {
  use_avx2() ? avx2::symmetric_block_grad(S, b, m, t, a, bc, index, w) : baseline::symmetric_block_grad(S, b, m, t, a, bc, index, w);
}

void divide_rows(const float* x, const float* n, float* o, int64_t r, int64_t d, double eps) {
  use_avx2() ? avx2::divide_rows(x, n, o, r, d, eps) : baseline::divide_rows(x, n, o, r, d, eps);
}
void divide_rows(const double* x, const double* n, double* o, int64_t r, int64_t d, double eps) {
  use_avx2() ? avx2::divide_rows(x, n, o, r, d, eps) : baseline::divide_rows(x, n, o, r, d, eps);
}
void row_norms(const float* x, float* n, int64_t r, int64_t d) {
  use_avx2() ? avx2::row_norms(x, n, r, d) : baseline::row_norms(x, n, r, d);
}
void row_norms(const double* x, double* n, int64_t r, int64_t d) {
  use_avx2() ? avx2::row_norms(x, n, r, d) : baseline::row_norms(x, n, r, d);
}
void normalize_backward(float* g, const float* y, const float* n, int64_t r, int64_t d, double eps) {
  use_avx2() ? avx2::normalize_backward(g, y, n, r, d, eps) : baseline::normalize_backward(g, y, n, r, d, eps);
}
void normalize_backward(double* g, const double* y, const double* n, int64_t r, int64_t d, double eps) {
  use_avx2() ? avx2::normalize_backward(g, y, n, r, d, eps) : baseline::normalize_backward(g, y, n, r, d, eps);
}

void exp_values(float* x, int64_t n) { use_avx2() ? avx2::exp_values(x, n) : baseline::exp_values(x, n); }
void exp_values(double* x, int64_t n) { use_avx2() ? avx2::exp_values(x, n) : baseline::exp_values(x, n); }

const char* kernel_name() {
  if (!use_avx2()) return "baseline";
  return avx2::have_sleef() ? "avx2+sleef" : "avx2";
}

}  // namespace pairloss::ce
