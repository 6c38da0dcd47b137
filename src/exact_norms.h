// Row norms bit for bit as x.norm(2, 1) (F.normalize's), for the CPU loops
// of the losses that pick or compare by them (KoLeo's neighbours).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <type_traits>

#include "ce_kernels.h"

namespace pairloss {

// norms_i = |x_i| for the n rows of x [n, d]: ce::row_norms sums in
// LibTorch's lane order, identical to at::norm for float64 and for float32
// rows of a multiple of 8 (an ulp off in some rows with a remainder: those
// take at::norm itself).
template <typename T>
void exact_row_norms(const T* x, T* norms, int64_t n, int64_t d) {
  if (std::is_same<T, double>::value || d % 8 == 0) {
    ce::row_norms(x, norms, n, d);
  } else {
    const auto options = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
    at::Tensor out = at::from_blob(norms, {n}, options);
    at::norm_out(out, at::from_blob(const_cast<T*>(x), {n, d}, options), 2.0, {1});
  }
}

}  // namespace pairloss
