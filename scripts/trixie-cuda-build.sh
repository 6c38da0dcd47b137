#!/usr/bin/env bash
# Compile and link pairloss against Debian 13's CUDA LibTorch 2.6 with NCCL, so
# every CUDA / NCCL branch (#if PAIRLOSS_WITH_NCCL ...) is compiled and linked.
# No GPU is needed. The addon cannot be *loaded* here: libtorch_cuda needs
# cuDNN (nvidia-cudnn is declined, see trixie-root.sh) and the driver's
# libcuda.so.1, so the checks are on the linked file: its NEEDED entries, what
# ldd resolves, and the c10d NCCL symbols it imports.
#
#   scripts/trixie-cuda-build.sh      (run as root; makes .trixie/cuda if needed:
#                                      2.8 GB download, 7.9 GB installed)
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "$0: needs root (chroot, mount)" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/.." && pwd)
base=${TRIXIE_DIR:-$repo/.trixie}
root=$base/cuda
addon=$root/work/pairloss/build/Release/pairloss.node

TRIXIE_DIR=$base "$repo/scripts/trixie-root.sh" cuda
TRIXIE_DIR=$base TRIXIE_FLAVOUR=cuda TRIXIE_BUILD_ONLY=1 "$repo/scripts/trixie-test.sh"

say() { printf '[trixie-cuda] %s\n' "$*"; }
fails=0
check() { # check DESCRIPTION CMD...: CMD must succeed
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then say "ok   $what"; else say "FAIL $what"; fails=$((fails + 1)); fi
}

cache=$root/work/pairloss/build/CMakeCache.txt
flags=$(grep -rhoE -- '-D(PAIRLOSS_WITH|USE_C10D)_[A-Z]+(=[0-9]+)?' "$root/work/pairloss/build" 2>/dev/null | sort -u | tr '\n' ' ')
say "compile definitions seen in build/: ${flags:-none}"
say "CMake: $(grep -E '^PAIRLOSS_HAVE_(NCCL|GLOO)_HEADER' "$cache" | tr '\n' ' ')"
check "PAIRLOSS_WITH_NCCL defined" grep -rq -- '-DPAIRLOSS_WITH_NCCL' "$root/work/pairloss/build"
check "addon built" test -s "$addon"

needed=$(chroot "$root" readelf -d /work/pairloss/build/Release/pairloss.node | awk '/NEEDED/ {gsub(/[\[\]]/, "", $5); print $5}' | tr '\n' ' ')
say "NEEDED: $needed"
check "NEEDED libtorch_cuda.so" grep -qw libtorch_cuda.so <<<"$needed"

ldd_out=$(chroot "$root" ldd /work/pairloss/build/Release/pairloss.node || true)
say "ldd (CUDA, NCCL, cuDNN, missing):"
grep -E 'torch_cuda|nccl|cudnn|cudart|not found' <<<"$ldd_out" | sed 's/^/    /'
check "ldd resolves libnccl.so.2" grep -qE 'libnccl\.so\.2 => /' <<<"$ldd_out"
check "ldd resolves libtorch_cuda.so" grep -qE 'libtorch_cuda\.so[.0-9]* => /' <<<"$ldd_out"
missing=$(grep 'not found' <<<"$ldd_out" | awk '{print $1}' | sort -u | tr '\n' ' ')
# Expected missing: cuDNN (declined) and the driver's libcuda (no GPU here).
unexpected=$(tr ' ' '\n' <<<"$missing" | grep -vE '^(libcudnn.*|libcuda\.so\.1|)$' || true)
say "not found (expected: cuDNN, libcuda.so.1): ${missing:-none}"
check "nothing else missing" test -z "$unexpected"

nccl_syms=$(chroot "$root" nm -DC --undefined-only /work/pairloss/build/Release/pairloss.node | grep -E 'ProcessGroupNCCL' || true)
say "imported c10d NCCL symbols: $(grep -c . <<<"$nccl_syms" || true)"
sed -n '1,8s/^/    /p' <<<"$nccl_syms"
check "imports c10d::ProcessGroupNCCL" test -n "$nccl_syms"
cuda_syms=$(chroot "$root" nm -DC --undefined-only /work/pairloss/build/Release/pairloss.node | grep -cE 'c10::cuda::|at::cuda::|torch::cuda::|cudaStream|CUDAStream|cudaEvent' || true)
say "imported CUDA runtime / c10::cuda symbols: $cuda_syms"

du_root=$(du -sh "$root" | cut -f1)
say "root size $du_root; addon $(du -h "$addon" 2>/dev/null | cut -f1)"
if [ $fails -gt 0 ]; then say "$fails check(s) failed"; exit 1; fi
say "CUDA + NCCL build links"
