#include "runtime.h"

#include <dlfcn.h>

#include <cstdlib>
#include <algorithm>
#include <thread>

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

namespace {
// The BLAS under LibTorch keeps a thread pool of its own (OpenBLAS), which
// at::set_num_threads does not size. Found at run time, so any BLAS links.
template <typename F>
F blas_symbol(const char* name) {
  for (const char* lib : {"libopenblas.so.0", "libblas.so.3", "libopenblas.so"}) {
    if (void* handle = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD)) {
      void* sym = dlsym(handle, name);
      dlclose(handle);
      if (sym) return reinterpret_cast<F>(sym);
    }
  }
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}
}  // namespace

void init_threads() {
  // PAIRLOSS_NUM_THREADS sizes both pools; otherwise LibTorch's intra-op pool
  // gets one thread per logical CPU (LibTorch 1.13 halves that, assuming
  // hyper-threads, which leaves a 2-vCPU VM with 1), as OpenBLAS already does.
  int n = 0;
  if (const char* env = std::getenv("PAIRLOSS_NUM_THREADS")) n = std::atoi(env);
  if (n >= 1) {
    set_num_threads(n);
  } else if (at::get_num_threads() < static_cast<int>(std::thread::hardware_concurrency())) {
    at::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  }
}

std::string blas_core() {
  static auto get = blas_symbol<char* (*)()>("openblas_get_corename");
  const char* name = get ? get() : nullptr;
  return name ? std::string(name) : std::string();
}

int get_blas_threads() {
  static auto get = blas_symbol<int (*)()>("openblas_get_num_threads");
  return get ? get() : -1;
}

void set_num_threads(int n) {
  if (n < 1) throw_range_error("numThreads must be an integer >= 1, got " + std::to_string(n));
  at::set_num_threads(n);
  static auto set = blas_symbol<void (*)(int)>("openblas_set_num_threads");
  if (set) set(n);
}

at::Device parse_device(const std::string& device, const char* name) {
  // 'cpu', 'cuda' or 'cuda:N' (N: 1-4 digits); parsed by hand: std::regex cost
  // several microseconds on every call
  if (device == "cpu") return at::Device(at::kCPU);
  const bool cuda = device.compare(0, 4, "cuda") == 0;
  const std::string digits = cuda && device.size() > 5 && device[4] == ':' ? device.substr(5) : std::string();
  const bool digits_ok = !digits.empty() && digits.size() <= 4 &&
                         std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!cuda || !(device.size() == 4 || digits_ok)) {
    throw_range_error(std::string(name) + " must be 'cpu', 'cuda' or 'cuda:N', got '" + device + "'");
  }
  if (!cuda_is_available()) {
    throw_range_error(std::string(name) + " '" + device +
                      "' is not available: this LibTorch " + TORCH_VERSION +
                      (at::hasCUDA() ? " sees no CUDA device" : " was built without CUDA"));
  }
  const int index = digits.empty() ? 0 : std::stoi(digits);
  if (index >= cuda_device_count()) {
    throw_range_error(std::string(name) + " '" + device + "' does not exist: " +
                      std::to_string(cuda_device_count()) + " CUDA device(s) visible");
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace pairloss
