#include "blas.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <climits>

namespace pairloss::blas {

namespace {

using Sgemm = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                       const int*, const float*, const int*, const float*, float*, const int*);
using Dgemm = void (*)(const char*, const char*, const int*, const int*, const int*, const double*, const double*,
                       const int*, const double*, const int*, const double*, double*, const int*);

using Ssyrk = void (*)(const char*, const char*, const int*, const int*, const float*, const float*, const int*,
                      const float*, float*, const int*);
using Dsyrk = void (*)(const char*, const char*, const int*, const int*, const double*, const double*, const int*,
                      const double*, double*, const int*);

struct Symbols {
  Sgemm s = nullptr;
  Dgemm d = nullptr;
  Ssyrk ssyrk = nullptr;
  Dsyrk dsyrk = nullptr;
};

// The gemm LibTorch's own calls resolve to: looked up from libtorch_cpu's
// handle (itself, then the libraries it links, in their order).
const Symbols& symbols() {
  static const Symbols syms = [] {
    Symbols r;
    Dl_info info{};
    void* h = nullptr;
    if (dladdr(reinterpret_cast<void*>(&at::get_num_threads), &info) != 0 && info.dli_fname != nullptr) {
      h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    }
    if (h != nullptr) {
      r.s = reinterpret_cast<Sgemm>(dlsym(h, "sgemm_"));
      r.d = reinterpret_cast<Dgemm>(dlsym(h, "dgemm_"));
      r.ssyrk = reinterpret_cast<Ssyrk>(dlsym(h, "ssyrk_"));
      r.dsyrk = reinterpret_cast<Dsyrk>(dlsym(h, "dsyrk_"));
      if (r.ssyrk == nullptr || r.dsyrk == nullptr) r.ssyrk = nullptr, r.dsyrk = nullptr;
      dlclose(h);  // still loaded: we link it
    }
    if (r.s == nullptr || r.d == nullptr) r = Symbols{};
    return r;
  }();
  return syms;
}

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

// The column-major call that computes row-major C = op(A) op(B): C^T =
// op(B)^T op(A)^T, as at::mm does for a row-major result (LibTorch's
// addmm_impl_cpu_ swaps its operands the same way); leading dimensions are
// then normalised as at::native::cpublas::gemm does.
template <typename T, typename F>
bool call(F gemm, const T* a, bool ta, const T* b, bool tb, T* c, int64_t rows, int64_t cols, int64_t inner) {
  if (gemm == nullptr || !fits_int(rows) || !fits_int(cols) || !fits_int(inner)) return false;
  const char transa = tb ? 'T' : 'N', transb = ta ? 'T' : 'N';
  const int64_t m = cols, n = rows, k = inner;
  int64_t lda = tb ? inner : cols, ldb = ta ? rows : inner, ldc = cols;
  if (n == 1) ldc = m;
  if (transa != 'N') {
    if (m == 1) lda = k;
  } else if (k == 1) {
    lda = m;
  }
  if (transb != 'N') {
    if (k == 1) ldb = n;
  } else if (n == 1) {
    ldb = k;
  }
  lda = std::max<int64_t>(lda, 1);
  ldb = std::max<int64_t>(ldb, 1);
  ldc = std::max<int64_t>(ldc, 1);
  if (!fits_int(lda) || !fits_int(ldb) || !fits_int(ldc)) return false;
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  const int ldai = static_cast<int>(lda), ldbi = static_cast<int>(ldb), ldci = static_cast<int>(ldc);
  const T one = 1, zero = 0;
  gemm(&transa, &transb, &mi, &ni, &ki, &one, b, &ldai, a, &ldbi, &zero, c, &ldci);
  return true;
}

template <typename T>
void fallback(const T* a, bool ta, const T* b, bool tb, T* c, int64_t rows, int64_t cols, int64_t inner) {
  const auto options = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  at::Tensor A = ta ? at::from_blob(const_cast<T*>(a), {inner, rows}, options).t()
                    : at::from_blob(const_cast<T*>(a), {rows, inner}, options);
  at::Tensor B = tb ? at::from_blob(const_cast<T*>(b), {cols, inner}, options).t()
                    : at::from_blob(const_cast<T*>(b), {inner, cols}, options);
  at::Tensor C = at::from_blob(c, {rows, cols}, options);
  at::mm_out(C, A, B);
}

// Row-major A [n, k] is the column-major A^T [k, n] (lda = k): syrk with
// trans 'T' gives C = (A^T)^T A^T = A A^T; uplo 'U' of the column-major C
// is the row-major lower triangle, mirrored to the upper one after.
template <typename T, typename F>
bool call_syrk(F syrk, const T* a, T* c, int64_t rows, int64_t inner) {
  if (syrk == nullptr || !fits_int(rows) || !fits_int(inner) || rows == 0) return false;
  const char uplo = 'U', trans = 'T';
  const int n = static_cast<int>(rows), k = static_cast<int>(inner);
  const int lda = std::max(k, 1), ldc = std::max(n, 1);
  const T one = 1, zero = 0;
  syrk(&uplo, &trans, &n, &k, &one, a, &lda, &zero, c, &ldc);
  // c[i][j] = c[j][i] for j > i, in strips of 8 rows i: the column walk
  // reads 8 adjacent values of row j at a time (a tile of more rows, `rows`
  // apart, thrashes the L1 cache where `rows` is a power of two)
  constexpr int64_t B = 8;
  at::parallel_for(0, (rows + B - 1) / B, std::max<int64_t>(1, 65536 / (B * rows)), [&](int64_t begin, int64_t end) {
    for (int64_t ib = begin * B; ib < std::min(end * B, rows); ib += B) {
      const int64_t ie = std::min(ib + B, rows);
      for (int64_t i = ib; i < ie; ++i) {
        for (int64_t j = i + 1; j < ie; ++j) c[i * rows + j] = c[j * rows + i];
      }
      for (int64_t j = ie; j < rows; ++j) {
        const T* rj = c + j * rows;
        for (int64_t i = ib; i < ie; ++i) c[i * rows + j] = rj[i];
      }
    }
  });
  return true;
}

}  // namespace

void gram(const float* a, float* c, int64_t rows, int64_t inner) {
  if (rows == 0) return;
  if (!call_syrk(symbols().ssyrk, a, c, rows, inner)) mm(a, false, a, true, c, rows, rows, inner);
}

void gram(const double* a, double* c, int64_t rows, int64_t inner) {
  if (rows == 0) return;
  if (!call_syrk(symbols().dsyrk, a, c, rows, inner)) mm(a, false, a, true, c, rows, rows, inner);
}

void mm(const float* a, bool ta, const float* b, bool tb, float* c, int64_t rows, int64_t cols, int64_t inner) {
  if (rows == 0 || cols == 0) return;
  if (!call(symbols().s, a, ta, b, tb, c, rows, cols, inner)) fallback(a, ta, b, tb, c, rows, cols, inner);
}

void mm(const double* a, bool ta, const double* b, bool tb, double* c, int64_t rows, int64_t cols, int64_t inner) {
  if (rows == 0 || cols == 0) return;
  if (!call(symbols().d, a, ta, b, tb, c, rows, cols, inner)) fallback(a, ta, b, tb, c, rows, cols, inner);
}

bool direct() { return symbols().s != nullptr; }

}  // namespace pairloss::blas
