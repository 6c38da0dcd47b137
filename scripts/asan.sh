#!/usr/bin/env bash
# The sanitizer run: builds the addon with AddressSanitizer and
# UndefinedBehaviorSanitizer (CMake option PAIRLOSS_SANITIZE=ON) into
# build-asan/, then runs the whole jest suite against it.
#
#   scripts/asan.sh                 build if stale, then run the suite
#   scripts/asan.sh --build-only    only build       (npm run build:asan)
#   scripts/asan.sh --test-only     only run the suite
#   scripts/asan.sh -- test/fuzz.test.ts    extra arguments go to jest
#
# How it runs: node itself is not instrumented, so the ASan runtime is
# preloaded (LD_PRELOAD of g++'s libasan.so) into node and every process it
# starts (jest workers, the fuzz children); PAIRLOSS_ADDON points lib/ at the
# sanitized addon. Only our code (binding/, src/) is instrumented: LibTorch,
# OpenBLAS and V8 are not, so a bad access inside them is caught only where it
# goes through an intercepted libc call (memcpy, free, ...).
#
# Leak detection is off (detect_leaks=0): V8 and LibTorch keep allocations
# alive until exit by design (isolate heaps, thread pools, registries), so
# LeakSanitizer would report them on every process. Leaks of ours are
# measured by scripts/leak.js instead.
#
# ASan's quarantine of freed memory is cut from 256 MB to 16 MB
# (quarantine_size_mb=16): RSS-based leak tests (test/memory.test.ts) would
# otherwise see the quarantine as growth. Use-after-free of memory freed
# within the last 16 MB of frees is still caught.
#
# Reports go to build-asan/logs/*.<pid> (ASan and UBSan share the file);
# UBSan keeps going after a report so that one run finds them all, ASan stops
# the process at the first. The script prints every report and exits non-zero
# when there is one or when jest fails. The PyTorch oracle runs without the
# preload. Extra options: PAIRLOSS_ASAN_OPTIONS, PAIRLOSS_UBSAN_OPTIONS.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${PAIRLOSS_ASAN_DIR:-build-asan}"
config=RelWithDebInfo
jobs="${PAIRLOSS_JOBS:-2}"

build=1
test=1
jest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-only) test=0 ;;
    --test-only) build=0 ;;
    --) shift; jest_args=("$@"); break ;;
    *) jest_args+=("$1") ;;
  esac
  shift
done

addon="$out/$config/pairloss.node"

if [ "$build" = 1 ]; then
  start=$(date +%s)
  echo "[asan] building $addon (ASan + UBSan, $config, -j$jobs)" >&2
  node node_modules/cmake-js/bin/cmake-js build --out "$out" --config "$config" \
    --CDPAIRLOSS_SANITIZE=ON --parallel "$jobs" >"$out.build.log" 2>&1 || {
    tail -40 "$out.build.log" >&2
    echo "[asan] build failed; full log: $out.build.log" >&2
    exit 1
  }
  mv "$out.build.log" "$out/build.log"
  echo "[asan] built in $(( $(date +%s) - start )) s" >&2
fi

[ "$test" = 1 ] || exit 0

if [ ! -f "$addon" ]; then
  echo "[asan] $addon is missing: run scripts/asan.sh --build-only first" >&2
  exit 1
fi
libasan="$(g++ -print-file-name=libasan.so)"
if [ ! -e "$libasan" ]; then
  echo "[asan] g++ has no libasan.so ($libasan); install g++ (it ships libasan8)" >&2
  exit 1
fi
libasan="$(readlink -f "$libasan")"

logs="$root/$out/logs"
rm -rf "$logs"
mkdir -p "$logs"

# The oracle is a Python process: keep the ASan runtime out of it.
python_wrapper="$root/$out/python3-without-asan"
cat >"$python_wrapper" <<EOF
#!/bin/sh
unset LD_PRELOAD
exec ${PAIRLOSS_PYTHON:-/usr/bin/python3} "\$@"
EOF
chmod +x "$python_wrapper"

start=$(date +%s)
set +e
env \
  LD_PRELOAD="$libasan" \
  ASAN_OPTIONS="detect_leaks=0:quarantine_size_mb=16:log_path=$logs/asan:abort_on_error=1:print_summary=1${PAIRLOSS_ASAN_OPTIONS:+:$PAIRLOSS_ASAN_OPTIONS}" \
  UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/ubsan${PAIRLOSS_UBSAN_OPTIONS:+:$PAIRLOSS_UBSAN_OPTIONS}" \
  PAIRLOSS_ADDON="$root/$addon" \
  PAIRLOSS_PYTHON="$python_wrapper" \
  node node_modules/jest/bin/jest.js ${jest_args[@]+"${jest_args[@]}"}
status=$?
set -e
elapsed=$(( $(date +%s) - start ))

reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
  for f in $reports; do
    echo "==== $f" >&2
    cat "$f" >&2
  done
fi
count=$(printf '%s' "$reports" | grep -c . || true)
echo "[asan] jest exit status $status, $count sanitizer report file(s), ${elapsed} s" >&2
if [ "$status" != 0 ] || [ "$count" != 0 ]; then exit 1; fi
