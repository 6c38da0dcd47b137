#include "ops.h"

#include <cmath>
#include <cstdlib>
#include <utility>
#include <sstream>

#include <ATen/Functions.h>

#include "errors.h"

namespace pairloss {

namespace {
std::string shape_str(const at::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}
}  // namespace

Reduction parse_reduction(const std::string& value, const char* name) {
  if (value == "mean") return Reduction::Mean;
  if (value == "sum") return Reduction::Sum;
  if (value == "none") return Reduction::None;
  throw_range_error(std::string(name) + " must be 'mean', 'sum' or 'none', got '" + value + "'");
}

void check_matrix(const at::Tensor& t, const char* name) {
  if (!t.defined() || t.dim() != 2) {
    throw_range_error(std::string(name) + " must be a 2-D tensor [rows, cols], got shape " +
                      (t.defined() ? shape_str(t) : std::string("undefined")));
  }
  if (!at::isFloatingType(t.scalar_type())) {
    throw_type_error(std::string(name) + " must be float32 or float64");
  }
}

void check_finite(const at::Tensor& t, const char* name) {
  if (t.numel() > 0 && !at::isfinite(t).all().item<bool>()) {
    throw_range_error(std::string(name) + " contains NaN or Infinity (checkFinite is on)");
  }
}

void check_loss_inputs(const at::Tensor& a, const at::Tensor& b, bool same_rows, bool finite, const char* name_a,
                       const char* name_b) {
  PAIRLOSS_CHECK(a.defined() && b.defined() && a.dim() == 2 && b.dim() == 2, "inputs must be 2-D");
  if (!at::isFloatingType(a.scalar_type()) || a.scalar_type() != b.scalar_type()) {
    throw_type_error("inputs must be float32 or float64, of one dtype");
  }
  PAIRLOSS_CHECK(a.device() == b.device(), "inputs must be on one device");
  PAIRLOSS_CHECK(a.size(1) == b.size(1), "inputs must have the same D");
  PAIRLOSS_CHECK(!same_rows || a.size(0) == b.size(0), "inputs must have the same N");
  PAIRLOSS_CHECK(a.size(0) > 0 && b.size(0) > 0 && a.size(1) > 0, "inputs must not be empty");
  if (finite) {
    check_finite(a, name_a);
    check_finite(b, name_b);
  }
}

at::Tensor normalize(const at::Tensor& x, double p, int64_t dim, double eps) {
  if (x.dim() == 0) throw_range_error("x must have at least one dimension");
  if (dim < -x.dim() || dim >= x.dim()) {
    throw_range_error("dim must be in [" + std::to_string(-x.dim()) + ", " +
                      std::to_string(x.dim() - 1) + "], got " + std::to_string(dim));
  }
  // torch/nn/functional.py: input / input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
  auto denom = x.norm(p, dim, /*keepdim=*/true).clamp_min(eps).expand_as(x);
  return x / denom;
}

at::Tensor cosine_similarity_matrix(const at::Tensor& x1, const at::Tensor& x2, double eps) {
  check_matrix(x1, "x1");
  check_matrix(x2, "x2");
  if (x1.size(1) != x2.size(1)) {
    throw_range_error("x1 and x2 must have the same number of columns D, got " +
                      std::to_string(x1.size(1)) + " and " + std::to_string(x2.size(1)));
  }
  return at::matmul(normalize(x1, 2.0, 1, eps), normalize(x2, 2.0, 1, eps).t());
}

at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& target, Reduction reduction,
                         double label_smoothing) {
  check_matrix(logits, "logits");
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0)) {
    throw_range_error("labelSmoothing must be in [0, 1], got " + std::to_string(label_smoothing));
  }
  const int64_t n = logits.size(0), c = logits.size(1);
  if (at::isFloatingType(target.scalar_type())) {
    if (!target.sizes().equals(logits.sizes())) {
      throw_range_error("target probabilities must have the shape of logits " + shape_str(logits) +
                        ", got " + shape_str(target));
    }
  } else {
    if (target.dim() != 1 || target.size(0) != n) {
      throw_range_error("target must hold " + std::to_string(n) + " class indices, got shape " +
                        shape_str(target));
    }
    if (n > 0) {
      const auto lo = target.min().item<int64_t>(), hi = target.max().item<int64_t>();
      if (lo < 0 || hi >= c) {
        throw_range_error("target class indices must be in [0, " + std::to_string(c) + "), got " +
                          std::to_string(lo < 0 ? lo : hi));
      }
    }
  }
  if (c == 0) throw_range_error("logits must have at least one class (column)");
  const int64_t red = reduction == Reduction::Mean  ? at::Reduction::Mean
                      : reduction == Reduction::Sum ? at::Reduction::Sum
                                                    : at::Reduction::None;
  return at::cross_entropy_loss(logits, target, /*weight=*/{}, red, /*ignore_index=*/-100,
                                label_smoothing);
}

bool memory_overlaps(const at::Tensor& a, const at::Tensor& b) {
  if (!a.defined() || !b.defined() || a.numel() == 0 || b.numel() == 0) return false;
  if (a.device() != b.device()) return false;
  // the bytes each tensor can reach: [first element, last element]
  auto range = [](const at::Tensor& t) {
    const auto* first = static_cast<const char*>(t.data_ptr());
    int64_t span = 0;
    for (int64_t d = 0; d < t.dim(); ++d) span += (t.size(d) - 1) * std::abs(t.stride(d));
    return std::make_pair(first, first + (span + 1) * static_cast<int64_t>(t.element_size()));
  };
  const auto ra = range(a), rb = range(b);
  return ra.first < rb.second && rb.first < ra.second;
}

at::Tensor output_matrix(const at::Tensor& out, int64_t rows, int64_t cols, at::ScalarType dtype,
                         std::initializer_list<at::Tensor> inputs) {
  if (!out.defined()) return at::empty({rows, cols}, at::TensorOptions().dtype(dtype));
  PAIRLOSS_CHECK(out.numel() == rows * cols, "out must have " + std::to_string(rows * cols) + " elements");
  PAIRLOSS_CHECK(out.scalar_type() == dtype, "out must have the inputs' dtype");
  PAIRLOSS_CHECK(out.device().is_cpu() && out.is_contiguous(), "out must be contiguous CPU memory");
  for (const at::Tensor& t : inputs) PAIRLOSS_CHECK(!memory_overlaps(out, t), "out overlaps an input's memory");
  return out.view({rows, cols});
}

at::Tensor matmul(const at::Tensor& a, const at::Tensor& b, bool transpose_a, bool transpose_b, const at::Tensor& out) {
  check_matrix(a, "a");
  check_matrix(b, "b");
  if (a.scalar_type() != b.scalar_type()) throw_type_error("b must have the dtype of a");
  PAIRLOSS_CHECK(a.device() == b.device(), "a and b must be on one device");
  // views, never copies: at::mm passes a transposed layout to BLAS as its 't' flag
  const at::Tensor lhs = transpose_a ? a.t() : a;
  const at::Tensor rhs = transpose_b ? b.t() : b;
  PAIRLOSS_CHECK(lhs.size(1) == rhs.size(0), "matmul: the inner sizes differ");
  if (!out.defined()) return at::mm(lhs, rhs);
  PAIRLOSS_CHECK(a.device().is_cpu(), "out is for CPU inputs");
  at::Tensor o = output_matrix(out, lhs.size(0), rhs.size(1), a.scalar_type(), {a, b});
  at::mm_out(o, lhs, rhs);
  return o;
}

at::Tensor batch_norm1d(const at::Tensor& x, double eps) {
  check_matrix(x, "x");
  if (!(eps > 0.0) || !std::isfinite(eps)) throw_range_error("eps must be a finite number > 0");
  if (x.size(0) <= 1) {
    // torch.nn.functional._verify_batch_size
    throw_range_error("batchNorm1d expects more than 1 value per channel when training, got input of shape " +
                      shape_str(x));
  }
  return at::batch_norm(x, /*weight=*/{}, /*bias=*/{}, /*running_mean=*/{}, /*running_var=*/{},
                        /*training=*/true, /*momentum=*/0.1, eps, /*cudnn_enabled=*/true);
}

at::Tensor autograd_leaf(const at::Tensor& t, bool grad) {
  at::Tensor l = t.detach();
  if (grad) l.requires_grad_(true);
  return l;
}

void place_gradient(at::Tensor& g, const at::Tensor& out) {
  if (g.defined() && out.defined() && out.device() == g.device() && out.sizes().equals(g.sizes()) &&
      out.scalar_type() == g.scalar_type() && out.is_contiguous()) {
    g = out.copy_(g);
  }
}

}  // namespace pairloss
