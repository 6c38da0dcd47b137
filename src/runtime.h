// Process-wide facts and settings of the LibTorch underneath.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace pairloss {

std::string torch_version();
bool cuda_is_available();
int cuda_device_count();
bool has_gloo();
bool has_nccl();
int get_num_threads();
// OpenBLAS's own thread count, or -1 when the BLAS is not OpenBLAS.
int get_blas_threads();
// The kernels OpenBLAS chose for this CPU (openblas_get_corename: 'Haswell',
// 'SkylakeX', 'Prescott', ...), or "" when LibTorch uses another BLAS. An
// x86-64 CPU that OpenBLAS does not recognise gets its generic 'Prescott'
// (SSE3) kernels; OPENBLAS_CORETYPE, set before loading, chooses others.
std::string blas_core();
// At load: PAIRLOSS_NUM_THREADS, else one intra-op thread per logical CPU.
void init_threads();
// Sizes LibTorch's intra-op pool and OpenBLAS's pool together.
void set_num_threads(int n);

// Parses 'cpu', 'cuda', 'cuda:N'; a RangeError for anything else, and for a
// CUDA device that this LibTorch or machine does not have.
at::Device parse_device(const std::string& device, const char* name = "device");

}  // namespace pairloss
