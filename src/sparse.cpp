#include "sparse.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
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
    for (; j + kLanes <= d; j += kLanes) {  // then one vector at a time
      V acc = {};
      for (int64_t k = k0; k < k1; ++k) {
        V x;
        __builtin_memcpy(&x, b + indices[k] * d + j, sizeof(V));
        acc += (values[k] - V{}) * x;
      }
      __builtin_memcpy(o + j, &acc, sizeof(V));
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

// The transpose: out[indices[k], j] += values[k] * b[i, j] for every row i
// and entry k in order, columns j in [j0, j1) of out (zeroed first): each
// output element's sum in entry order, and a column range per task.
template <typename T>
__attribute__((always_inline)) inline void csr_t_columns(const int64_t* indptr, const int64_t* indices, const T* values,
                                                         const T* b, T* out, int64_t rows, int64_t cols, int64_t d,
                                                         int64_t j0, int64_t j1) {
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t j = j0; j < j1; ++j) out[c * d + j] = T(0);
  }
  for (int64_t i = 0; i < rows; ++i) {
    const T* __restrict row = b + i * d;
    for (int64_t k = indptr[i]; k < indptr[i + 1]; ++k) {
      const T v = values[k];
      T* __restrict o = out + indices[k] * d;
      for (int64_t j = j0; j < j1; ++j) o[j] += v * row[j];
    }
  }
}

template <typename T>
void csr_t_default(const int64_t* p, const int64_t* ix, const T* v, const T* b, T* o, int64_t rows, int64_t cols,
                   int64_t d, int64_t j0, int64_t j1) {
  csr_t_columns(p, ix, v, b, o, rows, cols, d, j0, j1);
}

template <typename T>
__attribute__((target("avx2,fma"))) void csr_t_avx2(const int64_t* p, const int64_t* ix, const T* v, const T* b, T* o,
                                                     int64_t rows, int64_t cols, int64_t d, int64_t j0, int64_t j1) {
  csr_t_columns(p, ix, v, b, o, rows, cols, d, j0, j1);
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

// The product (a CSR of `rows` rows times b [*, d]) into out: rows in parallel.
void csr_product(const CsrMatrix& a, const at::Tensor& b, at::Tensor& out) {
  const int64_t rows = a.rows, d = b.size(1);
  if (rows == 0 || d == 0) return;
  // a task of ~256k multiply-adds at least: at the trainer's 512 x ~30 nnz x 64 that is ~4 tasks
  const int64_t per_row = std::max<int64_t>(1, a.nnz() / rows) * d;
  AT_DISPATCH_FLOATING_TYPES(a.values.scalar_type(), "pairloss_csr_mm", [&] {
    const int64_t* p = a.indptr.data_ptr<int64_t>();
    const int64_t* ix = a.indices.data_ptr<int64_t>();
    const scalar_t* v = a.values.data_ptr<scalar_t>();
    const scalar_t* bp = b.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    const auto kernel = cpu_has_avx2() ? csr_rows_avx2<scalar_t> : csr_rows_default<scalar_t>;
    at::parallel_for(0, rows, grain(per_row), [&](int64_t begin, int64_t end) { kernel(p, ix, v, bp, o, d, begin, end); });
  });
}

// The transposed product (a.T times b [a.rows, d]) into out [a.cols, d]:
// column ranges of 16 in parallel, each over every entry.
void csr_t_product(const CsrMatrix& a, const at::Tensor& b, at::Tensor& out) {
  const int64_t d = b.size(1);
  if (a.cols == 0 || d == 0) return;
  constexpr int64_t kColumns = 16;
  const int64_t blocks = (d + kColumns - 1) / kColumns;
  const int64_t per_block = (a.nnz() + a.cols) * std::min<int64_t>(d, kColumns);
  AT_DISPATCH_FLOATING_TYPES(a.values.scalar_type(), "pairloss_csr_t_mm", [&] {
    const int64_t* p = a.indptr.data_ptr<int64_t>();
    const int64_t* ix = a.indices.data_ptr<int64_t>();
    const scalar_t* v = a.values.data_ptr<scalar_t>();
    const scalar_t* bp = b.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    const auto kernel = cpu_has_avx2() ? csr_t_avx2<scalar_t> : csr_t_default<scalar_t>;
    at::parallel_for(0, blocks, grain(per_block), [&](int64_t begin, int64_t end) {
      kernel(p, ix, v, bp, o, a.rows, a.cols, d, begin * kColumns, std::min(d, end * kColumns));
    });
  });
}

at::Tensor index_copy(const at::Tensor& t, const char* name) {
  PAIRLOSS_CHECK(t.defined() && t.dim() == 1 && t.device().is_cpu(), std::string(name) + " must be a 1-D CPU array");
  PAIRLOSS_CHECK(t.scalar_type() == at::kInt || t.scalar_type() == at::kLong, std::string(name) + " must hold int32 or int64");
  return t.scalar_type() == at::kLong ? t.contiguous() : t.to(at::kLong);
}

}  // namespace

std::shared_ptr<CsrMatrix> csr_matrix(const at::Tensor& indptr_in, const at::Tensor& indices_in, at::Tensor values,
                                            int64_t rows, int64_t cols) {
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
  return m;
}

namespace {

// t itself when its storage holds n elements, else a new tensor of max(n,
// 2 x t's capacity) elements (t's contents are not kept: every element is
// written next). Allocates before the caller changes anything.
at::Tensor with_capacity(const at::Tensor& t, int64_t n) {
  const int64_t capacity = static_cast<int64_t>(t.storage().nbytes()) / static_cast<int64_t>(t.element_size());
  return n <= capacity ? t : at::empty({std::max(n, 2 * capacity)}, t.options());
}

}  // namespace

void csr_index_select_into(const CsrMatrix& src, const at::Tensor& rows_in, CsrMatrix& out) {
  PAIRLOSS_CHECK(&out != &src, "out must not be csr itself");
  PAIRLOSS_CHECK(out.values.scalar_type() == src.values.scalar_type(), "out must have csr's dtype");
  PAIRLOSS_CHECK(out.cols == src.cols, "out must have csr's " + std::to_string(src.cols) + " columns");
  PAIRLOSS_CHECK(rows_in.defined() && rows_in.dim() == 1 && rows_in.device().is_cpu() && rows_in.scalar_type() == at::kLong,
                 "rows must be a 1-D int64 CPU array");
  const at::Tensor rows = rows_in.contiguous();
  const int64_t count = rows.numel();
  const int64_t* r = rows.data_ptr<int64_t>();
  const int64_t* sp = src.indptr.data_ptr<int64_t>();
  // every row checked (and the entries counted) before anything is written
  int64_t nnz = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (r[i] < 0 || r[i] >= src.rows) {
      throw_range_error("rows[" + std::to_string(i) + "] must be a row index in [0, " + std::to_string(src.rows) + "), got " +
                        std::to_string(r[i]));
    }
    nnz += sp[r[i] + 1] - sp[r[i]];
  }
  // what may allocate (and throw) first, then out changed
  at::Tensor indptr = with_capacity(out.indptr, count + 1);
  at::Tensor indices = with_capacity(out.indices, nnz);
  at::Tensor values = with_capacity(out.values, nnz);
  out.indptr = indptr.resize_({count + 1});
  out.indices = indices.resize_({nnz});
  out.values = values.resize_({nnz});
  out.rows = count;
  int64_t* p = out.indptr.data_ptr<int64_t>();
  p[0] = 0;
  for (int64_t i = 0; i < count; ++i) p[i + 1] = p[i] + (sp[r[i] + 1] - sp[r[i]]);
  const int64_t* six = src.indices.data_ptr<int64_t>();
  int64_t* ix = out.indices.data_ptr<int64_t>();
  const size_t value_size = src.values.element_size();
  const char* sv = static_cast<const char*>(src.values.data_ptr());
  char* v = static_cast<char*>(out.values.data_ptr());
  // a memcpy of each row's slice; rows in parallel only for large selections (~64k entries a task)
  const int64_t per_row = std::max<int64_t>(1, nnz / std::max<int64_t>(count, 1));
  at::parallel_for(0, count, std::max<int64_t>(1, (int64_t{1} << 16) / per_row), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t from = sp[r[i]], n = sp[r[i] + 1] - from, to = p[i];
      if (n == 0) continue;
      std::memcpy(ix + to, six + from, n * sizeof(int64_t));
      std::memcpy(v + to * value_size, sv + from * value_size, n * value_size);
    }
  });
}

std::shared_ptr<CsrMatrix> csr_index_select(const CsrMatrix& src, const at::Tensor& rows) {
  auto m = std::make_shared<CsrMatrix>();
  m->cols = src.cols;
  m->indptr = at::empty({0}, at::kLong);
  m->indices = at::empty({0}, at::kLong);
  m->values = at::empty({0}, src.values.options());
  csr_index_select_into(src, rows, *m);
  return m;
}

int64_t csr_storage_bytes(const CsrMatrix& m) {
  return static_cast<int64_t>(m.indptr.storage().nbytes() + m.indices.storage().nbytes() + m.values.storage().nbytes());
}

at::Tensor sparse_matmul(const CsrMatrix& a, const at::Tensor& b_in, bool transpose_a, const at::Tensor& out) {
  check_matrix(b_in, "b");
  if (b_in.scalar_type() != a.values.scalar_type()) throw_type_error("b must have the dtype of the CSR values");
  PAIRLOSS_CHECK(b_in.device().is_cpu(), "sparseMatmul computes on the CPU");
  const int64_t inner = transpose_a ? a.rows : a.cols;
  const int64_t rows = transpose_a ? a.cols : a.rows;
  PAIRLOSS_CHECK(b_in.size(0) == inner, "b must have " + std::to_string(inner) + " rows");
  const at::Tensor b = b_in.contiguous();
  at::Tensor o = output_matrix(out, rows, b.size(1), b.scalar_type(), {b, a.values});
  if (transpose_a) {
    csr_t_product(a, b, o);
  } else {
    csr_product(a, b, o);
  }
  return o;
}

}  // namespace pairloss
