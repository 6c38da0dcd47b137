// Sparse first layers: a CSR matrix (scipy's and torch.sparse_csr_tensor's
// layout) times a dense one, and its transpose times a dense one (the
// weight gradient), as plain loops over the rows.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>

namespace pairloss {

// A [rows, cols] CSR matrix that owns its memory, checked when made. Row i's
// entries are k in [indptr[i], indptr[i+1]): column indices[k], value
// values[k]; columns need not be sorted, and a column repeated in a row is
// summed (as torch.sparse.mm sums it). The tensors may hold more storage
// than their sizes (csr_index_select_into refills them within it).
struct CsrMatrix {
  int64_t rows = 0, cols = 0;
  at::Tensor indptr;   // int64 [rows + 1]
  at::Tensor indices;  // int64 [nnz]
  at::Tensor values;   // float32 / float64 [nnz]
  int64_t nnz() const { return values.numel(); }
};

// A CSR matrix over tensors the caller hands over (copies no one else
// writes: the binding copies a JS array before this checks it). Checks,
// with a RangeError naming the array: indptr has rows + 1 entries, starts
// at 0, never decreases and ends at nnz; indices and values have nnz
// entries; every index is in [0, cols). Indices int32 or int64 (kept as
// int64), values float32 or float64.
std::shared_ptr<CsrMatrix> csr_matrix(const at::Tensor& indptr, const at::Tensor& indices, at::Tensor values,
                                            int64_t rows, int64_t cols);

// The rows `rows` (int64 [count], a copy no one else writes) of `src`, in
// that order (repeats allowed), each row's entries copied as they are (no
// summing, no sorting, no check again: src was checked when made): a
// [count, src.cols] matrix of src's dtype, what torch's
// csr.index_select(0, rows) and scipy's csr[rows] hold. Every row is checked
// in [0, src.rows) first (a RangeError naming rows[i]), before anything is
// written.
std::shared_ptr<CsrMatrix> csr_index_select(const CsrMatrix& src, const at::Tensor& rows);

// The same into `out` (not src; src's dtype and cols, else a RangeError
// naming out): its tensors are resized within their storage, which grows
// geometrically (at least doubling) only when a selection needs more, so
// that refilling the same `out` allocates nothing in steady state. On an
// error, out is left as it was.
void csr_index_select_into(const CsrMatrix& src, const at::Tensor& rows, CsrMatrix& out);

// The bytes a CSR matrix's tensors hold (their storage, capacity included).
int64_t csr_storage_bytes(const CsrMatrix& m);

// a @ b ([rows, cols] x [cols, D] -> [rows, D]), or with transpose_a
// a.T @ b ([rows, cols]^T x [rows, D] -> [cols, D]). Each output element
// is one sum in entry order (row by row, each row's entries in order):
// deterministic, however many threads. With `out` (see output_matrix in ops.h) the result is written
// there and returned as a view of it.
at::Tensor sparse_matmul(const CsrMatrix& a, const at::Tensor& b, bool transpose_a, const at::Tensor& out = {});

}  // namespace pairloss
