// Optimizers as torch.optim computes them, over many tensors in one call.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace pairloss {

// torch.optim.Adam's / AdamW's functional arguments (torch/optim/adam.py,
// adamw.py in 1.13), each default as torch's.
struct AdamOptions {
  int64_t step = 1;                     // the step count after its increment (>= 1)
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW: param *= 1 - lr * weight_decay, the grad untouched
  bool amsgrad = false;
  bool maximize = false;
};

// One Adam step of every params[i] in place, with its moments exp_avgs[i]
// and exp_avg_sqs[i] (and max_exp_avg_sqs[i] with amsgrad; empty otherwise)
// updated in place: _single_tensor_adam's sequence of operations, each in
// the tensors' dtype, fused into one pass over each tensor's elements.
// The tensors of index i have one numel and dtype (float32 or float64), are
// contiguous CPU memory, and the ones written (params, moments) overlap
// nothing else (a RangeError otherwise).
void adam(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
          const std::vector<at::Tensor>& exp_avgs, const std::vector<at::Tensor>& exp_avg_sqs,
          const std::vector<at::Tensor>& max_exp_avg_sqs, const AdamOptions& options);

}  // namespace pairloss
