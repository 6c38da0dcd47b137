// VICReg (Bardes et al. 2022) as lightly's VICRegLoss computes it, with its
// gradients; under a process group the loss of the global batch.
#pragma once

#include <ATen/ATen.h>

#include <memory>

namespace pairloss {

class ProcessGroup;  // process_group.h

struct VicregOptions {
  // lightly's lambda_param, mu_param, nu_param.
  double invariance_weight = 25.0;
  double variance_weight = 25.0;
  double covariance_weight = 1.0;
  // The hinge's target std (lightly and the paper: 1) and the eps under its sqrt.
  double gamma = 1.0;
  double eps = 1e-4;
  bool grad = true;
  bool check_finite = false;
  // Under a process group: every term over the global batch of W * N rows
  // (one process on the concatenated batch), the same loss on every rank and
  // its exact gradients for this rank's inputs. The views are all-gathered
  // (N and D the same on every rank).
  std::shared_ptr<ProcessGroup> group;
  // Optional memory for the gradients, as NpairsOptions::out_grad1/2 (the
  // gradients are copied there where they fit).
  at::Tensor out_grad1, out_grad2;
};

struct VicregResult {
  double loss = 0.0;
  double invariance = 0.0;  // mse(z1, z2)
  double variance = 0.0;    // (hinge(z1) + hinge(z2)) / 2, hinge = mean_j relu(gamma - sqrt(var_j + eps))
  double covariance = 0.0;  // cov(z1) + cov(z2), cov = sum_{i != j} C_ij^2 / D
  at::Tensor grad1, grad2;
};

// Checks two 2-D inputs of one dtype, device and shape, N >= 2 over the batch
// the statistics are taken on (lib checks every argument first).
VicregResult vicreg_loss(const at::Tensor& z1, const at::Tensor& z2, const VicregOptions& options);

}  // namespace pairloss
