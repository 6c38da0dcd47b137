#!/usr/bin/env bash
# Prepare .gpu/ for scripts/gpu-check.sh on a lent GPU machine, which has
# PyTorch 2.x, CMake, ninja and g++ but no Node.js and no package registry.
#
#   scripts/gpu-pack.sh
#
# Writes (each remade only when its input changed):
#   .gpu/node.xz                this machine's `node` binary, xz-compressed
#   .gpu/node_modules.tar.xz    node_modules, less source maps and the browser
#                               bundles of @tensorflow/* (the bench's tfjs peers
#                               load dist/*.node.js and the .wasm files only:
#                               286 MB -> 5 MB compressed), less GPU_PACK_EXCLUDE
#                               (space-separated names under node_modules/)
# and prints the device call to make. .gpu/ must be ignored by git (it is
# listed in .gitignore), so it travels only through `carry: [".gpu"]`. The
# working tree itself travels as usual; the whole must stay under 64 MiB.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
pack=.gpu
mkdir -p "$pack"
if ! git check-ignore -q "$pack/node.xz"; then
  echo "gpu-pack: $pack/ is not ignored by git; add '/.gpu/' to .gitignore first" >&2
  exit 1
fi
exclude=${GPU_PACK_EXCLUDE:-}
prune=(--exclude='*.js.map' --exclude='node_modules/@tensorflow/*/dist/miniprogram'
  --exclude='node_modules/@tensorflow/*/dist/*.min.js' --exclude='node_modules/@tensorflow/*/dist/*.es2017.js'
  --exclude='node_modules/@tensorflow/*/dist/*.fesm.js')
threads=${JOBS:-2}

node_bin=$(command -v node)
node_id="$(node --version) $(sha256sum "$node_bin" | cut -c1-16)"
if [ "$(cat "$pack/node.id" 2>/dev/null)" != "$node_id" ] || [ ! -s "$pack/node.xz" ]; then
  echo "gpu-pack: compressing $node_bin ($node_id) ..."
  t0=$SECONDS
  xz -T"$threads" -6 -c "$node_bin" >"$pack/node.xz.tmp" && mv "$pack/node.xz.tmp" "$pack/node.xz"
  echo "$node_id" >"$pack/node.id"
  echo "gpu-pack: node.xz in $((SECONDS - t0)) s"
fi

[ -d node_modules ] || { echo "gpu-pack: run npm ci first" >&2; exit 1; }
mods_id="$(sha256sum package-lock.json | cut -c1-16) prune=2 exclude=$exclude"
if [ "$(cat "$pack/node_modules.id" 2>/dev/null)" != "$mods_id" ] || [ ! -s "$pack/node_modules.tar.xz" ]; then
  echo "gpu-pack: packing node_modules (pruned; without: ${exclude:-nothing else}) ..."
  t0=$SECONDS
  args=("${prune[@]}")
  for e in $exclude; do args+=(--exclude="node_modules/$e"); done
  tar -cf - "${args[@]}" node_modules | xz -T"$threads" -6 >"$pack/node_modules.tar.xz.tmp"
  mv "$pack/node_modules.tar.xz.tmp" "$pack/node_modules.tar.xz"
  echo "$mods_id" >"$pack/node_modules.id"
  echo "gpu-pack: node_modules.tar.xz in $((SECONDS - t0)) s"
fi

tree_bytes=$(git ls-files -co --exclude-standard -z | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}')
pack_bytes=$(du -sb "$pack" | cut -f1)   # carry takes the whole folder
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "gpu-pack: node.xz $(mib "$(stat -c %s "$pack/node.xz")"), node_modules.tar.xz $(mib "$(stat -c %s "$pack/node_modules.tar.xz")")"
echo "gpu-pack: working tree $(mib "$tree_bytes") + .gpu $(mib "$pack_bytes") = $(mib $((tree_bytes + pack_bytes))) (limit 64 MiB)"
if [ $((tree_bytes + pack_bytes)) -gt $((64 * 1048576)) ]; then
  echo "gpu-pack: too large for the device tool; ignore big untracked files or widen GPU_PACK_EXCLUDE" >&2
  exit 1
fi
cat <<'EOF'
gpu-pack: ready. Device call (one run; about 8 minutes of a 15-minute budget):
  run  command: "bash scripts/gpu-check.sh"  carry: [".gpu"]  timeout_s: 580
  A second, shorter run on the same warm machine: GPU_CHECK_STEPS="parity nccl" bash scripts/gpu-check.sh
EOF
