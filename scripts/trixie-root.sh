#!/usr/bin/env bash
# Build (or reuse) a Debian 13 "trixie" root holding LibTorch 2.6, for building
# and testing pairloss against LibTorch 2.x.
#
#   scripts/trixie-root.sh [cpu|cuda]      (default: cpu; run as root)
#
#   cpu   .trixie/cpu : nodejs npm cmake g++ make libtorch-dev (2.6, CPU) libgloo-dev
#                       libopenblas0-pthread python3-torch python3-numpy ...
#   cuda  .trixie/cuda: libtorch-cuda-dev (2.6) libgloo-cuda-dev nvidia-cuda-toolkit
#                       libnccl-dev g++ cmake nodejs npm
#
# Measured here: cpu 343 MB download, 2.0 GB installed, ~130 s from nothing;
# cuda 2834 MB download, 7.9 GB installed, ~215 s (the mirror is fast here).
#
# Re-runnable: each finished step leaves a marker in <root>/.pairloss/ and is
# skipped next time; delete the marker (or the root) to redo a step. Timings
# and sizes go to .trixie/<flavour>.timings. /proc, /sys and /dev are mounted
# into the root only while apt runs, and unmounted on exit (trap).
#
# Environment: TRIXIE_DIR (default <repo>/.trixie), TRIXIE_MIRROR
# (default http://deb.debian.org/debian).
set -euo pipefail

flavour=${1:-cpu}
case $flavour in
  cpu|cuda) ;;
  *) echo "usage: $0 [cpu|cuda]" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "$0: needs root (debootstrap, chroot, mount)" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
base=${TRIXIE_DIR:-$repo/.trixie}
root=$base/$flavour
mirror=${TRIXIE_MIRROR:-http://deb.debian.org/debian}
marks=$root/.pairloss
timings=$base/$flavour.timings
mkdir -p "$base"

cpu_packages="nodejs npm cmake g++ make libtorch-dev libgloo-dev libopenblas0-pthread
  python3-torch python3-numpy fonts-dejavu-core ca-certificates iproute2"
cuda_packages="libtorch-cuda-dev libgloo-cuda-dev nvidia-cuda-toolkit libnccl-dev
  g++ make cmake nodejs npm ca-certificates"

log() { printf '[trixie-root %s] %s\n' "$flavour" "$*"; }
record() { printf '%s\t%s\n' "$1" "$2" >>"$timings"; log "$1: $2"; }

# step NAME CMD...: run CMD once (marker), recording its wall time.
step() {
  local name=$1; shift
  if [ -e "$marks/$name" ]; then log "$name: done before, skipped"; return 0; fi
  log "$name ..."
  local t0=$SECONDS
  "$@"
  mkdir -p "$marks"; touch "$marks/$name"
  record "$name" "$((SECONDS - t0)) s"
}

# --- mounts, only while needed ----------------------------------------------
# make_dev_nodes ROOT: /dev inside the root without binding the host's.
source "$(dirname "${BASH_SOURCE[0]}")/trixie-dev.sh"

mounted=()
mount_root() {
  local d
  for d in proc sys dev dev/pts; do
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
      esac
      if [ $ok = 1 ]; then mounted=("$root/$d" "${mounted[@]}")
      else echo "warning: could not mount /$d in $root; continuing without it" >&2; fi
    fi
  done
}
umount_root() {
  local m
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  mounted=()
}
trap umount_root EXIT INT TERM

in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# --- steps --------------------------------------------------------------------
host_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  apt-get install -y --no-install-recommends debootstrap
}

bootstrap() {
  # A root left half-made by an interrupted run is started afresh, but never
  # while something is mounted inside it.
  if [ -d "$root" ]; then
    if grep -qE " $root(/| )" /proc/mounts; then
      echo "$0: $root has mounts inside; unmount them first" >&2; exit 1
    fi
    rm -rf "$root"
  fi
  debootstrap --variant=minbase --components=main,contrib,non-free trixie "$root" "$mirror"
}

configure() {
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  cp -L /etc/hosts "$root/etc/hosts"
  # All three components; debootstrap only writes the first line for main.
  printf 'deb %s trixie main contrib non-free non-free-firmware\n' "$mirror" >"$root/etc/apt/sources.list"
  # The host's CA bundle (the registry and the mirror may sit behind a proxy
  # with its own CA): apt, npm (NODE_EXTRA_CA_CERTS) and curl use it.
  mkdir -p "$root/etc/pairloss"
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/pairloss/host-ca.crt"
  if [ -d /usr/local/share/ca-certificates ]; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  fi
  # No daemons from postinst scripts; no docs or man pages.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod +x "$root/usr/sbin/policy-rc.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/01pairloss-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\nAcquire::Retries "3";\n' \
    >"$root/etc/apt/apt.conf.d/01pairloss"
  # npm inside the root: no header download by node-gyp/cmake-js, host CAs.
  cat >"$root/root/.npmrc" <<'EOF'
nodedir=/usr
cafile=/etc/pairloss/host-ca.crt
fund=false
audit=false
update-notifier=false
EOF
}

apt_update() { mount_root; in_root apt-get update; }

# nvidia-cudnn (contrib) is an installer whose postinst downloads cuDNN from
# NVIDIA when its question nvidia-cudnn/question (a select: "I Decline",
# "I Agree"; default "I Agree") is answered "I Agree". There is no way out of
# here, so decline it. The templates are read from the package itself, so a
# renamed question or changed choice stops the script instead of hanging apt.
preseed_cudnn() {
  mount_root
  in_root sh -c 'cd /tmp && rm -rf cudnn-ctl nvidia-cudnn_*.deb && apt-get download nvidia-cudnn && dpkg-deb -e nvidia-cudnn_*.deb cudnn-ctl'
  log "nvidia-cudnn templates:"; grep -E '^(Template|Type|Choices|Default):' "$root/tmp/cudnn-ctl/templates" || true
  if ! grep -A3 '^Template: nvidia-cudnn/question$' "$root/tmp/cudnn-ctl/templates" | grep -q '^Choices:.*I Decline'; then
    echo "$0: nvidia-cudnn's question changed; see $root/tmp/cudnn-ctl/templates" >&2; exit 1
  fi
  echo 'nvidia-cudnn nvidia-cudnn/question select I Decline' | in_root debconf-set-selections
  in_root sh -c 'echo "get nvidia-cudnn/question" | debconf-communicate nvidia-cudnn' | tee /dev/stderr | grep -q 'I Decline'
  rm -rf "$root"/tmp/nvidia-cudnn_*.deb "$root/tmp/cudnn-ctl"
}

install_packages() {
  mount_root
  local pkgs
  if [ "$flavour" = cpu ]; then pkgs=$cpu_packages; else pkgs=$cuda_packages; fi
  # shellcheck disable=SC2086
  in_root apt-get install -y --no-install-recommends $pkgs 2>&1 | tee "$base/$flavour.apt.log"
  [ "${PIPESTATUS[0]}" = 0 ] || return 1
  local need
  need=$(grep -m1 -E '^Need to get' "$base/$flavour.apt.log" || true)
  [ -n "$need" ] && record "apt-download" "$need"
  in_root apt-get clean
}

report() {
  record "size-root" "$(du -sh "$root" 2>/dev/null | cut -f1)"
  local v
  v=$(in_root dpkg-query -W -f '${Version}' "$([ "$flavour" = cpu ] && echo libtorch-dev || echo libtorch-cuda-dev)" 2>/dev/null || true)
  record "libtorch" "$v"
  record "node" "$(in_root node --version 2>/dev/null || true) npm $(in_root npm --version 2>/dev/null || true)"
}

t_all=$SECONDS
host_debootstrap
step bootstrap bootstrap
step configure configure
step apt-update apt_update
if [ "$flavour" = cuda ]; then step preseed-cudnn preseed_cudnn; fi
# The install step is redone when the package list changes.
if [ "$flavour" = cpu ]; then want=$cpu_packages; else want=$cuda_packages; fi
want=$(echo $want)
if [ -e "$marks/install" ] && [ "$(cat "$marks/install")" != "$want" ]; then
  log "package list changed; installing again"; rm -f "$marks/install"
fi
step install install_packages
echo "$want" >"$marks/install"
umount_root
report
log "ready in $((SECONDS - t_all)) s: $root"
