#!/usr/bin/env bash
# The GPU check: run on a lent GPU machine through the `device` tool, after
# scripts/gpu-pack.sh here:
#
#   run  command: "bash scripts/gpu-check.sh"  carry: [".gpu"]  timeout_s: 580
#
# That machine has PyTorch 2.x (CUDA) in python3, CMake, ninja and g++, but no
# Node.js and no registry: Node.js and node_modules come from .gpu/. Steps
# (each with its own timeout, logs in $OUT):
#   setup   unpack node and node_modules, print the machine (info.txt)
#   build   the addon against python3's torch (torch.utils.cmake_prefix_path),
#           NCCL header from the nvidia-nccl wheel; tsc          (build.log)
#   parity  PAIRLOSS_TEST_DEVICE=cuda jest test/parity          (parity.log)
#   async   the async / event-loop test on CUDA                  (async.log)
#   device  residency on CUDA (test/device.test.ts): inputs copied to the
#           device once, results held there (grad1.device 'cuda:0'), data()
#           and to('cpu') copy to host, dispose() frees device memory at once
#           (the CUDA caching allocator's allocated bytes, as
#           torch.cuda.memory_allocated counts them), async calls resolve with
#           finished results, use after dispose is a clean error; and
#           cuda.memoryStats() / emptyCache() (test/runtime.test.ts) (device.log)
#   nccl    a one-rank NCCL group: allReduce, allGather, broadcast of a CUDA
#           tensor with results held on the GPU (no host buffer made; freed by
#           dispose, as cuda.memoryStats() counts), barrier, both losses
#           under the group against the same losses without; the CUDA tensor
#           through a one-rank Gloo group too                     (nccl.log)
#   bench   node bench/run.js --device cuda --sizes 16384x512 against the
#           same PyTorch on the same GPU                (bench.log, bench.json)
# summary.txt: one line per step with its exit status and seconds.
# GPU_CHECK_STEPS picks steps (default: all, in that order; setup always runs).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# Unpacked files stay out of .gpu/, so that .gpu/ stays small enough to carry.
work=${GPU_CHECK_WORK:-/tmp/pairloss-gpu}
OUT=${OUT:-$work/out}
mkdir -p "$OUT"
steps=${GPU_CHECK_STEPS:-build parity async device nccl bench}
jobs=$(nproc 2>/dev/null || echo 8)
summary=$OUT/summary.txt
: >"$summary"
t_start=$SECONDS

say() { printf '[gpu-check %4ds] %s\n' "$((SECONDS - t_start))" "$*"; }
want() { [[ " $steps " == *" $1 "* ]]; }
# run_step NAME TIMEOUT LOG CMD...: run CMD with a timeout, its output to LOG
# and to stdout; one line in summary.txt.
run_step() {
  local name=$1 limit=$2 logf=$3; shift 3
  local t0=$SECONDS rc
  say "$name (limit ${limit}s) -> $(basename "$logf")"
  # Shell functions run through `bash -c` (timeout runs programs only).
  timeout -k 10 "$limit" bash -c '"$@"' "$name" "$@" 2>&1 | tee -a "$logf"
  rc=${PIPESTATUS[0]}
  printf '%-8s exit %-3s %4ds\n' "$name" "$rc" "$((SECONDS - t0))" | tee -a "$summary"
  return "$rc"
}

# --- setup: node, node_modules, the machine -----------------------------------
py=$(command -v python3)
export PATH="$work/bin:$(dirname "$("$py" -c 'import sys; print(sys.executable)')"):$PATH"
unxz_to() { # unxz_to FILE.xz DEST: xz if present, else Python's lzma
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"
  else "$py" -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"))' "$1" "$2"; fi
}
setup() {
  set -e
  mkdir -p "$work/bin"
  if [ ! -x "$work/bin/node" ]; then unxz_to .gpu/node.xz "$work/bin/node.tmp"; chmod +x "$work/bin/node.tmp"; mv "$work/bin/node.tmp" "$work/bin/node"; fi
  if [ ! -d node_modules/jest ]; then
    if command -v xz >/dev/null; then tar -xJf .gpu/node_modules.tar.xz
    else "$py" -c 'import tarfile,sys; t=tarfile.open(sys.argv[1]); t.extractall(".", filter="tar") if hasattr(tarfile,"data_filter") else t.extractall(".")' .gpu/node_modules.tar.xz; fi
  fi
  echo "node $(node --version) at $(command -v node)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$py" - <<'EOF'
import torch, sys
print("python", sys.version.split()[0], sys.executable)
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(),
      "devices", torch.cuda.device_count())
print("nccl", torch.cuda.nccl.version() if torch.cuda.is_available() else None,
      "cxx11abi", torch._C._GLIBCXX_USE_CXX11_ABI)
print("cmake_prefix_path", torch.utils.cmake_prefix_path)
EOF
  (cmake --version | head -1; ninja --version; g++ --version | head -1; nvcc --version | tail -2) 2>&1 || true
}
export -f setup unxz_to
export py repo jobs work
run_step setup 120 "$OUT/info.txt" setup || { say "setup failed; nothing else can run"; cat "$summary"; exit 1; }

# --- build ---------------------------------------------------------------------
torch_dir=$("$py" -c 'import os, torch; print(os.path.join(torch.utils.cmake_prefix_path, "Torch"))')
# The pip wheels keep nccl.h under site-packages/nvidia/ (nvidia-nccl-cu1x),
# which the Torch CMake package does not add; ProcessGroupNCCL.hpp needs it.
nccl_inc=$("$py" - <<'EOF' 2>/dev/null
import glob, os, site, torch
roots = site.getsitepackages() + [os.path.dirname(os.path.dirname(torch.__file__))]
hits = [h for r in roots for h in glob.glob(os.path.join(r, "nvidia", "**", "nccl.h"), recursive=True)]
hits += [h for h in ("/usr/include/nccl.h", "/usr/local/cuda/include/nccl.h") if os.path.exists(h)]
print(os.path.dirname(hits[0]) if hits else "")
EOF
)
if [ -n "$nccl_inc" ]; then export CPLUS_INCLUDE_PATH="$nccl_inc${CPLUS_INCLUDE_PATH:+:$CPLUS_INCLUDE_PATH}"; fi
[ -d /usr/local/cuda/bin ] && export PATH="$PATH:/usr/local/cuda/bin"
# The CUDA toolkit for Torch's CMake package (find_package(CUDAToolkit)):
# /usr/local/cuda where it has nvcc (a `nvcc` on PATH may be a wrapper script).
if [ -z "${CUDAToolkit_ROOT:-}" ]; then
  if [ -x /usr/local/cuda/bin/nvcc ]; then export CUDAToolkit_ROOT=/usr/local/cuda
  elif nvcc_bin=$(command -v nvcc); then export CUDAToolkit_ROOT=$(dirname "$(dirname "$(readlink -f "$nvcc_bin")")"); fi
fi
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} CMAKE_BUILD_PARALLEL_LEVEL=$jobs
build() {
  set -e
  echo "Torch_DIR=$torch_dir nccl.h=${nccl_inc:-none} CUDAToolkit_ROOT=${CUDAToolkit_ROOT:-none}"
  node node_modules/cmake-js/bin/cmake-js compile --CDCMAKE_BUILD_TYPE=Release \
    --CDTorch_DIR="$torch_dir" ${CUDAToolkit_ROOT:+--CDCUDAToolkit_ROOT="$CUDAToolkit_ROOT"} -p "$jobs"
  grep -rhoE --include='*.ninja' --include='flags.make' -e '-D(PAIRLOSS_WITH|USE_C10D)_[A-Z]+(=[0-9]+)?' build | sort -u
  ldd build/Release/pairloss.node | grep -E 'torch|nccl|cudart|not found' || true
  node node_modules/typescript/bin/tsc -p tsconfig.json
  node -e '
    const p = require("./dist/lib");
    const b = require("./build/Release/pairloss.node");
    console.log("addon: torch", b.torchVersion, "gloo", b.hasGloo, "nccl", b.hasNccl,
      "cuda", b.cudaIsAvailable(), "devices", b.cudaDeviceCount(), "| package", p.version);
    if (!b.cudaIsAvailable()) { console.error("addon sees no CUDA"); process.exit(1); }
    if (!b.hasNccl) console.error("WARNING: addon built without NCCL (no nccl.h found?); the nccl step will fail");'
}
export -f build
export torch_dir nccl_inc
built=0
if want build; then run_step build 300 "$OUT/build.log" build && built=1; else [ -f build/Release/pairloss.node ] && built=1; fi
if [ $built = 0 ]; then say "no addon; the remaining steps need it"; cat "$summary"; exit 1; fi

# --- tests on CUDA --------------------------------------------------------------
export PAIRLOSS_TEST_DEVICE=cuda PAIRLOSS_PYTHON=$py PAIRLOSS_SKIP_SYSTEM=1 CI=1
jest() { node node_modules/jest/bin/jest.js --ci --colors=false "$@"; }
export -f jest
if want parity; then run_step parity 200 "$OUT/parity.log" jest ${GPU_PARITY_TESTS:-test/parity}; fi
if want async; then run_step async 120 "$OUT/async.log" jest ${GPU_ASYNC_TESTS:-test/async}; fi
if want device; then run_step device 120 "$OUT/device.log" jest --verbose test/device.test.ts test/runtime.test.ts; fi

nccl_check() {
  MASTER_PORT=$((29600 + RANDOM % 300)) node - <<'EOF'
const assert = require('assert');
const pl = require('./dist/lib');
const close = (a, b, what, tol = 1e-5) => {
  assert.strictEqual(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};
const host = (t) => Array.from(t.data());
(async () => {
  const t0 = Date.now();
  const pg = await pl.ProcessGroup.init({ backend: 'nccl', rank: 0, worldSize: 1,
    host: '127.0.0.1', port: Number(process.env.MASTER_PORT), timeoutMs: 60000 });
  console.log(`init: backend ${pg.backend}, rank ${pg.rank}/${pg.worldSize}, ${Date.now() - t0} ms`);
  assert.strictEqual(pg.backend, 'nccl');
  const values = Array.from({ length: 12 }, (_, i) => i - 5.5);
  const x = pl.Tensor.from(Float32Array.from(values), [3, 4]).to('cuda');
  console.log('tensor on', x.device);
  // A CUDA tensor goes to the collective as it is (no copy through host memory) and the result
  // stays on the GPU: no host buffer is made by the call, one handle (the result) is.
  const onGpu = (t, what) => assert.ok(t.resident && t.device === x.device, `${what}: held on ${x.device}, got ${t.device} (resident ${t.resident})`);
  (await pg.allReduce(x, 'sum')).dispose(); // the first collective sets up NCCL's communicator
  const ms0 = pl.memoryStats();
  const cuda0 = pl.cuda.memoryStats(x.device);
  const r = await pg.allReduce(x, 'sum');
  const ms1 = pl.memoryStats();
  assert.strictEqual(ms1.externalBuffers - ms0.externalBuffers, 0, 'allReduce of a CUDA tensor made a host buffer');
  assert.strictEqual(ms1.handles - ms0.handles, 1, 'allReduce: one handle (the result)');
  onGpu(r, 'allReduce');
  assert.ok(pl.cuda.memoryStats(x.device).allocated > cuda0.allocated, 'allReduce result counted in cuda.memoryStats().allocated');
  close(host(r), values, 'allReduce(sum), one rank');
  const avg = await pg.allReduce(x, 'avg');
  onGpu(avg, 'allReduce(avg)');
  close(host(avg), values, 'allReduce(avg), one rank');
  const g = await pg.allGather(x);
  assert.ok(Array.isArray(g) && g.length === 1, 'allGather: one tensor per rank');
  onGpu(g[0], 'allGather');
  assert.deepStrictEqual([...g[0].shape], [3, 4], 'allGather shape');
  close(host(g[0]), values, 'allGather');
  const bc = await pg.broadcast(x, 0);
  onGpu(bc, 'broadcast');
  close(host(bc), values, 'broadcast');
  // disposed while pending: the call keeps its own reference
  const y = pl.Tensor.from(Float32Array.from(values), [3, 4], { device: 'cuda' });
  const pending = pg.allReduce(y, 'sum');
  y.dispose();
  const py = await pending;
  close(host(py), values, 'allReduce of an input disposed while pending');
  // a disposed tensor: a RangeError naming it
  await pg.allReduce(y).then(() => assert.fail('allReduce of a disposed tensor resolved'),
    (e) => assert.ok(e instanceof RangeError && /^t: the tensor has been disposed/.test(e.message), `disposed: ${e}`));
  for (const t of [r, avg, g[0], bc, py]) t.dispose();
  // (NCCL's watchdog thread may hold a finished call's buffers a moment longer)
  let cuda1 = pl.cuda.memoryStats(x.device);
  for (let i = 0; i < 30 && cuda1.allocated !== cuda0.allocated; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    cuda1 = pl.cuda.memoryStats(x.device);
  }
  assert.strictEqual(cuda1.allocated, cuda0.allocated, 'every collective result freed by dispose()');
  console.log(`collectives on ${x.device}: results held there; cuda.memoryStats allocated back to ${cuda1.allocated} B after dispose`);
  // the same CUDA tensor through a one-rank Gloo group (a CPU backend: host memory inside the call)
  const gloo = await pl.ProcessGroup.init({ backend: 'gloo', rank: 0, worldSize: 1, host: '127.0.0.1',
    port: Number(process.env.MASTER_PORT) + 1, timeoutMs: 60000, storePrefix: 'gloo_check' });
  const gr = await gloo.allReduce(x, 'sum');
  onGpu(gr, 'gloo allReduce');
  close(host(gr), values, 'gloo allReduce of a CUDA tensor');
  gr.dispose();
  await gloo.destroy();
  console.log('gloo group: a CUDA tensor in, a CUDA tensor out');
  await pg.barrier();
  // Losses under a one-rank group equal the same losses without one.
  const n = 64, d = 32;
  const rnd = (k) => Float32Array.from({ length: k }, (_, i) => Math.sin(0.37 * i + 0.11 * (i % 7)));
  const a = pl.Tensor.from(rnd(n * d), [n, d]).to('cuda');
  const b = pl.Tensor.from(rnd(n * d).reverse(), [n, d]).to('cuda');
  for (const [name, fn, opts] of [
    ['npairsLoss', pl.npairsLoss, { temperature: 0.07, symmetric: true }],
    ['correlationLoss', pl.correlationLoss, { mode: 'features' }],
  ]) {
    const solo = fn(a, b, opts);
    const grouped = fn(a, b, { ...opts, group: pg });
    close([grouped.loss], [solo.loss], `${name} loss`);
    close(host(grouped.grad1), host(solo.grad1), `${name} grad1`);
    close(host(grouped.grad2), host(solo.grad2), `${name} grad2`);
    assert.ok(grouped.grad1.resident && grouped.grad1.device.startsWith('cuda'), `${name}: grad1 held on the GPU`);
    console.log(`${name}: loss ${solo.loss} (grouped ${grouped.loss}), grad1 on ${grouped.grad1.device}`);
    for (const r of [solo, grouped]) { r.grad1.dispose(); r.grad2.dispose(); }
  }
  await pg.destroy();
  console.log(`one-rank NCCL group: ok (${Date.now() - t0} ms)`);
})().catch((e) => { console.error(e); process.exit(1); });
EOF
}
export -f nccl_check
if want nccl; then run_step nccl 90 "$OUT/nccl.log" nccl_check; fi

if want bench; then
  run_step bench 200 "$OUT/bench.log" node bench/run.js --device cuda --sizes "${GPU_BENCH_SIZES:-16384x512}" \
    --python "$py" --quick --json "$OUT/bench.json"
fi

say "done"
cat "$summary"
! grep -qvE ' exit 0 ' "$summary"
