#!/usr/bin/env bash
# Build pairloss and run its whole test suite inside the Debian 13 (trixie)
# root, i.e. against LibTorch 2.6 (CPU), Gloo and python3-torch 2.6.
#
#   scripts/trixie-test.sh [jest args...]      (run as root)
#
# Makes the root first if needed (scripts/trixie-root.sh cpu), copies the
# working tree (tracked and untracked-but-not-ignored files; never
# node_modules, build, dist or .trixie) to <root>/work/pairloss, then inside
# the root: `npm ci` (skipped while package-lock.json is unchanged), the
# native build, the TypeScript build and the tests. Timings go to stdout and
# to .trixie/cpu.test.timings; the full log to .trixie/cpu.test.log.
#
# Environment: TRIXIE_DIR (default <repo>/.trixie), TRIXIE_NPM_CI=1 forces a
# fresh `npm ci`, JOBS (default 2) for the native build. For
# scripts/trixie-cuda-build.sh: TRIXIE_FLAVOUR=cuda (the .trixie/cuda root)
# and TRIXIE_BUILD_ONLY=1 (stop after the native build). TRIXIE_PATCH=FILE
# applies a unified diff (patch -p1) to the copy only: a way to try a change
# against LibTorch 2.6 without touching the working tree.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "$0: needs root (chroot, mount)" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
base=${TRIXIE_DIR:-$repo/.trixie}
flavour=${TRIXIE_FLAVOUR:-cpu}
root=$base/$flavour
dest=/work/pairloss          # inside the root
timings=$base/$flavour.test.timings
logfile=$base/$flavour.test.log
torch_pkg=libtorch-dev
[ "$flavour" = cuda ] && torch_pkg=libtorch-cuda-dev

if [ ! -e "$root/.pairloss/install" ]; then
  TRIXIE_DIR=$base "$repo/scripts/trixie-root.sh" "$flavour"
fi
: >"$timings"
exec > >(tee "$logfile") 2>&1

log() { printf '[trixie-test %s] %s\n' "$flavour" "$*"; }
record() { printf '%s\t%s\n' "$1" "$2" >>"$timings"; log "$1: $2"; }

# make_dev_nodes ROOT: /dev inside the root without binding the host's.
source "$(dirname "${BASH_SOURCE[0]}")/trixie-dev.sh"

mounted=()
mount_root() {
  local d
  # The root bound onto itself first, so that "/" inside is a mount point:
  # `ip netns add` (test/distributed.netns) runs `mount --make-rslave /`.
  if ! mountpoint -q "$root"; then
    if mount --bind "$root" "$root"; then mounted=("$root" "${mounted[@]}")
    else echo "warning: could not bind $root onto itself; network-namespace tests will fail" >&2; fi
  fi
  for d in proc sys dev dev/pts dev/shm; do
    mkdir -p "$root/$d"
    if ! mountpoint -q "$root/$d"; then
      # Best effort: where mounting is not allowed (some containers) apt and
      # the tests mostly still work; say so instead of stopping.
      local ok=0
      case $d in
        proc) mount -t proc proc "$root/proc" && ok=1 ;;
        sys) mount -t sysfs sysfs "$root/sys" && ok=1 ;;
        dev) make_dev_nodes "$root"; continue ;;
        dev/pts) mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts" && ok=1 ;;
        dev/shm) mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm" && ok=1 ;;
      esac
      if [ $ok = 1 ]; then mounted=("$root/$d" "${mounted[@]}")
      else echo "warning: could not mount /$d in $root; continuing without it" >&2; fi
    fi
  done
}
umount_root() {
  local m
  # Everything mounted under the root, deepest first (ours, and what tests
  # leave, e.g. `ip netns` binds /run/netns), then the root's self-bind.
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done < <(awk -v r="$root/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r)
  for m in "${mounted[@]}"; do
    if mountpoint -q "$m"; then umount "$m" 2>/dev/null || umount -l "$m" || true; fi
  done
  mounted=()
}
trap umount_root EXIT INT TERM

# Run a shell command in the copy, inside the root, with a clean environment
# (plus the caller's PAIRLOSS_* variables, e.g. PAIRLOSS_FUZZ_SEED).
in_work() {
  local pass=()
  while IFS= read -r v; do pass+=("$v"); done < <(env | grep -E '^PAIRLOSS_[A-Z0-9_]+=' || true)
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI=1 "${pass[@]}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_EXTRA_CA_CERTS=/etc/pairloss/host-ca.crt npm_config_nodedir=/usr \
    USE_LIBUV=0 PAIRLOSS_PYTHON=/usr/bin/python3 JOBS="${JOBS:-2}" CMAKE_BUILD_PARALLEL_LEVEL="${JOBS:-2}" \
    TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" \
    bash -c "cd $dest && $1"
}

timed() {
  local name=$1; shift
  local t0=$SECONDS rc=0
  "$@" || rc=$?
  record "$name" "$((SECONDS - t0)) s (exit $rc)"
  return $rc
}

copy_tree() {
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  cp -L /etc/hosts "$root/etc/hosts"
  mkdir -p "$root$dest"
  # Start from a clean copy but keep what is cached: node_modules and build/.
  find "$root$dest" -mindepth 1 -maxdepth 1 ! -name node_modules ! -name build -exec rm -rf {} +
  (cd "$repo" && git ls-files -co --exclude-standard -z \
     | grep -zvE '^(node_modules|build|dist|\.trixie|\.gpu|\.gl|\.whl)(/|$)' \
     | tar --null -T - -cf -) | tar -xf - -C "$root$dest"
  if [ -n "${TRIXIE_PATCH:-}" ]; then
    log "applying $TRIXIE_PATCH to the copy"
    patch -d "$root$dest" -p1 <"$TRIXIE_PATCH"
  fi
  log "copied $(cd "$root$dest" && find . -path ./node_modules -prune -o -path ./build -prune -o -type f -print | wc -l) files"
}

npm_install() {
  local sum old
  sum=$(sha256sum "$root$dest/package-lock.json" | cut -d' ' -f1)
  old=$(cat "$root$dest/node_modules/.pairloss-lock.sha256" 2>/dev/null || true)
  if [ "${TRIXIE_NPM_CI:-0}" != 1 ] && [ "$sum" = "$old" ]; then
    log "npm ci: package-lock.json unchanged, node_modules kept"; return 0
  fi
  # trixie has npm 9; the lock file was written by npm 11 (lockfileVersion 3).
  # No install scripts (npm 11 on the host runs none either unless approved):
  # npm 9 installs the root's `file:.` devDependency as a copy and would build
  # the addon a second time inside it; the copy is replaced by the link the
  # demo package resolves `pairloss` through (scripts/setup.js's selfLink).
  in_work 'npm ci --ignore-scripts --no-audit --no-fund || npm ci --ignore-scripts --no-audit --no-fund --legacy-peer-deps'
  in_work 'rm -rf node_modules/pairloss && ln -s .. node_modules/pairloss'
  echo "$sum" >"$root$dest/node_modules/.pairloss-lock.sha256"
}

summary() {
  log "---- summary ($torch_pkg $(chroot "$root" dpkg-query -W -f '${Version}' $torch_pkg)) ----"
  cat "$timings"
  grep -E '^(Tests|Test Suites|Snapshots|Time):' "$logfile" | tail -4 || true
  log "total $((SECONDS - t_all)) s, exit $1"
}
fail() { summary "$1"; exit "$1"; }

t_all=$SECONDS
log "root: $root ($torch_pkg $(chroot "$root" dpkg-query -W -f '${Version}' $torch_pkg), node $(chroot "$root" node --version), npm $(chroot "$root" npm --version))"
mount_root
timed copy copy_tree || fail $?
timed npm-ci npm_install || fail $?
timed build-native in_work 'npx cmake-js compile --CDCMAKE_BUILD_TYPE=Release -p "$JOBS"' || fail $?
if [ "${TRIXIE_BUILD_ONLY:-0}" = 1 ]; then summary 0; exit 0; fi
if [ -f "$repo/tsconfig.json" ]; then timed build-ts in_work 'npx tsc -p tsconfig.json' || fail $?; fi
jest_args=
if [ $# -gt 0 ]; then jest_args=$(printf ' %q' "$@"); fi
rc=0
if [ -f "$repo/scripts/setup.js" ]; then
  timed test in_work "npm test --${jest_args}" || rc=$?
else
  timed test in_work "npx jest${jest_args}" || rc=$?
fi
summary $rc
exit $rc
