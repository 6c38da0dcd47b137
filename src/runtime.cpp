#include "runtime.h"

#include <regex>

#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <torch/version.h>

#include "errors.h"

namespace pairloss {

std::string torch_version() { return TORCH_VERSION; }

bool cuda_is_available() { return at::hasCUDA() && at::detail::getCUDAHooks().getNumGPUs() > 0; }

int cuda_device_count() { return at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0; }

bool has_gloo() {
#ifdef PAIRLOSS_WITH_GLOO
  return true;
#else
  return false;
#endif
}

bool has_nccl() {
#ifdef PAIRLOSS_WITH_NCCL
  return true;
#else
  return false;
#endif
}

int get_num_threads() { return at::get_num_threads(); }

void set_num_threads(int n) {
  if (n < 1) throw_range_error("numThreads must be an integer >= 1, got " + std::to_string(n));
  at::set_num_threads(n);
}

at::Device parse_device(const std::string& device, const char* name) {
  static const std::regex pattern("^(cpu|cuda)(:([0-9]{1,4}))?$");
  std::smatch m;
  if (!std::regex_match(device, m, pattern) || (m[1] == "cpu" && m[2].matched)) {
    throw_range_error(std::string(name) + " must be 'cpu', 'cuda' or 'cuda:N', got '" + device + "'");
  }
  if (m[1] == "cpu") return at::Device(at::kCPU);
  if (!cuda_is_available()) {
    throw_range_error(std::string(name) + " '" + device +
                      "' is not available: this LibTorch " + TORCH_VERSION +
                      (at::hasCUDA() ? " sees no CUDA device" : " was built without CUDA"));
  }
  const int index = m[3].matched ? std::stoi(m[3].str()) : 0;
  if (index >= cuda_device_count()) {
    throw_range_error(std::string(name) + " '" + device + "' does not exist: " +
                      std::to_string(cuda_device_count()) + " CUDA device(s) visible");
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace pairloss
