#include "sparse.h"

#include <ATen/Parallel.h>

#include <string>

#include "errors.h"
#include "ops.h"
#include "parallel.h"

namespace pairloss {

namespace {

// 32-byte vectors (GCC's vector extensions): 8 floats or 4 doubles, an AVX2
// register where the CPU has it, two SSE2 ones elsewhere.
template <typename T>
struct Vec32 {
  typedef T type __attribute__((vector_size(32)));
};

// out[i, :] = sum over row i's entries k of values[k] * b[indices[k], :], rows
// [begin, end). Column blocks of 8 vectors stay in registers over the row's
// entries; each element's sum is 0 + v0·b0 + v1·b1 + ... in entry order,
// whatever the block. In the AVX2 build each step is one fused multiply-add
// (the compiler contracts `acc += v * x`), as in ATen's AVX2 kernels: the
// forward product is then bitwise torch.sparse.mm's and F.embedding_bag's.
template <typename T>
__attribute__((always_inline)) inline void csr_rows(const int64_t* indptr, const int64_t* indices, const T* values,
                                                    const T* b, T* out, int64_t d, int64_t begin, int64_t end) {
  using V = typename Vec32<T>::type;
  constexpr int64_t kLanes = 32 / sizeof(T);
  constexpr int64_t kBlock = 8 * kLanes;
  for (int64_t i = begin; i < end; ++i) {
    T* o = out + i * d;
    const int64_t k0 = indptr[i], k1 = indptr[i + 1];
    int64_t j = 0;
    for (; j + kBlock <= d; j += kBlock) {
      V acc[8] = {};
      for (int64_t k = k0; k < k1; ++k) {
        const V v = values[k] - V{};  // broadcast
        const T* row = b + indices[k] * d + j;
        for (int r = 0; r < 8; ++r) {
          V x;
          __builtin_memcpy(&x, row + r * kLanes, sizeof(V));
          acc[r] += v * x;
        }
      }
      __builtin_memcpy(o + j, acc, sizeof(acc));
    }
    for (; j < d; ++j) {
      T sum = T(0);
      for (int64_t k = k0; k < k1; ++k) sum += values[k] * b[indices[k] * d + j];
      o[j] = sum;
    }
  }
}

template <typename T>
void csr_rows_default(const int64_t* p, const int64_t* ix, const T* v, const T* b, T* o, int64_t d, int64_t begin, int64_t end) {
  csr_rows(p, ix, v, b, o, d, begin, end);
}

// The same loops compiled for AVX2 and FMA.
template <typename T>
__attribute__((target("avx2,fma"))) void csr_rows_avx2(const int64_t* p, const int64_t* ix, const T* v, const T* b, T* o,
                                                    int64_t d, int64_t begin, int64_t end) {
  csr_rows(p, ix, v, b, o, d, begin, end);
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

// Rows of the product at once: a CSR (indptr over `rows` rows) times b [*, d].
void csr_product(const at::Tensor& indptr, const at::Tensor& indices, const at::Tensor& values, const at::Tensor& b,
                 at::Tensor& out, int64_t rows) {
  const int64_t d = b.size(1);
  if (rows == 0 || d == 0) return;
  const int64_t nnz = values.numel();
  // a task of ~256k multiply-adds at least: at the trainer's 512 x ~30 nnz x 64 that is ~4 tasks
  const int64_t per_row = std::max<int64_t>(1, nnz / rows) * d;
  AT_DISPATCH_FLOATING_TYPES(values.scalar_type(), "pairloss_csr_mm", [&] {
    const int64_t* p = indptr.data_ptr<int64_t>();
    const int64_t* ix = indices.data_ptr<int64_t>();
    const scalar_t* v = values.data_ptr<scalar_t>();
    const scalar_t* bp = b.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    const auto kernel = cpu_has_avx2() ? csr_rows_avx2<scalar_t> : csr_rows_default<scalar_t>;
    at::parallel_for(0, rows, grain(per_row), [&](int64_t begin, int64_t end) { kernel(p, ix, v, bp, o, d, begin, end); });
  });
}

at::Tensor index_copy(const at::Tensor& t, const char* name) {
  PAIRLOSS_CHECK(t.defined() && t.dim() == 1 && t.device().is_cpu(), std::string(name) + " must be a 1-D CPU array");
  PAIRLOSS_CHECK(t.scalar_type() == at::kInt || t.scalar_type() == at::kLong, std::string(name) + " must hold int32 or int64");
  return t.scalar_type() == at::kLong ? t.contiguous() : t.to(at::kLong);
}

}  // namespace

std::shared_ptr<const CsrMatrix> csr_matrix(const at::Tensor& indptr_in, const at::Tensor& indices_in, at::Tensor values,
                                            int64_t rows, int64_t cols, bool with_transpose) {
  PAIRLOSS_CHECK(rows >= 0 && cols >= 0, "shape must be two sizes >= 0");
  auto m = std::make_shared<CsrMatrix>();
  m->rows = rows;
  m->cols = cols;
  m->indptr = index_copy(indptr_in, "indptr");
  m->indices = index_copy(indices_in, "indices");
  PAIRLOSS_CHECK(values.defined() && values.dim() == 1 && values.device().is_cpu(), "values must be a 1-D CPU array");
  if (values.scalar_type() != at::kFloat && values.scalar_type() != at::kDouble) throw_type_error("values must be float32 or float64");
  m->values = values.contiguous();
  const int64_t nnz = m->values.numel();
  PAIRLOSS_CHECK(m->indptr.numel() == rows + 1, "indptr must have rows + 1 = " + std::to_string(rows + 1) + " entries");
  PAIRLOSS_CHECK(m->indices.numel() == nnz, "indices and values must have the same length");
  const int64_t* p = m->indptr.data_ptr<int64_t>();
  PAIRLOSS_CHECK(p[0] == 0, "indptr must start at 0");
  for (int64_t i = 0; i < rows; ++i) PAIRLOSS_CHECK(p[i] <= p[i + 1], "indptr must not decrease (at " + std::to_string(i + 1) + ")");
  PAIRLOSS_CHECK(p[rows] == nnz, "indptr must end at nnz = " + std::to_string(nnz));
  const int64_t* ix = m->indices.data_ptr<int64_t>();
  for (int64_t k = 0; k < nnz; ++k) {
    PAIRLOSS_CHECK(ix[k] >= 0 && ix[k] < cols, "indices[" + std::to_string(k) + "] is out of range [0, " + std::to_string(cols) + ")");
  }
  if (with_transpose) {
    // counting sort by column, stable: each column's entries stay in row order
    m->t_indptr = at::zeros({cols + 1}, at::kLong);
    m->t_indices = at::empty({nnz}, at::kLong);
    m->t_values = at::empty({nnz}, m->values.options());
    int64_t* tp = m->t_indptr.data_ptr<int64_t>();
    for (int64_t k = 0; k < nnz; ++k) ++tp[ix[k] + 1];
    for (int64_t c = 0; c < cols; ++c) tp[c + 1] += tp[c];
    std::vector<int64_t> next(tp, tp + cols);
    int64_t* ti = m->t_indices.data_ptr<int64_t>();
    AT_DISPATCH_FLOATING_TYPES(m->values.scalar_type(), "pairloss_csr_transpose", [&] {
      const scalar_t* v = m->values.data_ptr<scalar_t>();
      scalar_t* tv = m->t_values.data_ptr<scalar_t>();
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t k = p[i]; k < p[i + 1]; ++k) {
          const int64_t at = next[ix[k]]++;
          ti[at] = i;
          tv[at] = v[k];
        }
      }
    });
  }
  return m;
}

at::Tensor sparse_matmul(const CsrMatrix& a, const at::Tensor& b_in, bool transpose_a, const at::Tensor& out) {
  check_matrix(b_in, "b");
  if (b_in.scalar_type() != a.values.scalar_type()) throw_type_error("b must have the dtype of the CSR values");
  PAIRLOSS_CHECK(b_in.device().is_cpu(), "sparseMatmul computes on the CPU");
  const int64_t inner = transpose_a ? a.rows : a.cols;
  const int64_t rows = transpose_a ? a.cols : a.rows;
  PAIRLOSS_CHECK(b_in.size(0) == inner, "b must have " + std::to_string(inner) + " rows");
  PAIRLOSS_CHECK(!transpose_a || a.has_transpose(), "the CSR matrix has no transpose built");
  const at::Tensor b = b_in.contiguous();
  at::Tensor o = output_matrix(out, rows, b.size(1), b.scalar_type(), {b, a.values});
  if (transpose_a) {
    csr_product(a.t_indptr, a.t_indices, a.t_values, b, o, rows);
  } else {
    csr_product(a.indptr, a.indices, a.values, b, o, rows);
  }
  return o;
}

}  // namespace pairloss
