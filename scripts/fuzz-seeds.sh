#!/usr/bin/env bash
# Runs the fuzz suite (test/fuzz.test.ts) with N fresh random seeds, one after
# another and nice'd (the machine may be shared), and tallies them:
#
#   scripts/fuzz-seeds.sh 50                          # 50 seeds, the default size
#   PAIRLOSS_FUZZ_RUNS=60 scripts/fuzz-seeds.sh 20    # 20 seeds, smaller runs
#
# Each seed's line (date, seed, runs a property, pass/FAIL, seconds, the
# failed tests) is appended to the tally file, PAIRLOSS_FUZZ_TALLY (default
# $out/tally.tsv, tab-separated), and its jest output goes to
# $out/seed-<seed>.log, where $out is PAIRLOSS_FUZZ_OUT (default
# ${TMPDIR:-/tmp}/pairloss-fuzz-seeds). At the end it prints this sweep's
# tally and, for each failure, what failed and the command that replays it.
# Exit status 0 when every seed passed, 1 otherwise, 2 for a usage error.
set -uo pipefail

n=${1:-}
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz-seeds.sh N   (N fresh random seeds, N >= 1; got '${n}')" >&2
  exit 2
fi
cd "$(dirname "$0")/.."

out=${PAIRLOSS_FUZZ_OUT:-${TMPDIR:-/tmp}/pairloss-fuzz-seeds}
mkdir -p "$out"
tally=${PAIRLOSS_FUZZ_TALLY:-$out/tally.tsv}
[ -s "$tally" ] || printf 'date\tseed\truns\tresult\tseconds\tfailed\n' >"$tally"
runs=${PAIRLOSS_FUZZ_RUNS:-150}
jest=node_modules/.bin/jest
[ -x "$jest" ] || { echo "fuzz-seeds: $jest is missing; run 'npm ci' (or 'npm test' once) first" >&2; exit 2; }

replay() { # replay SEED: the command that runs that seed's cases again
  local r="PAIRLOSS_FUZZ_SEED=$1"
  [ "$runs" = 150 ] || r+=" PAIRLOSS_FUZZ_RUNS=$runs"
  [ -z "${PAIRLOSS_FUZZ_PARITY:-}" ] || r+=" PAIRLOSS_FUZZ_PARITY=$PAIRLOSS_FUZZ_PARITY"
  echo "$r npx jest test/fuzz.test.ts"
}

sweep=$(mktemp)
trap 'rm -f "$sweep"' EXIT
passed=0 failed=0
echo "[fuzz-seeds] $n seeds, $runs runs a property; tally: $tally, logs: $out"
for i in $(seq 1 "$n"); do
  seed=$(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 2147483648 ))
  log=$out/seed-$seed.log
  start=$(date +%s)
  PAIRLOSS_FUZZ_SEED=$seed PAIRLOSS_FUZZ_RUNS=$runs nice -n 10 "$jest" test/fuzz.test.ts >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ "$rc" -eq 0 ]; then
    result=pass what=- passed=$((passed + 1))
  else
    result=FAIL failed=$((failed + 1))
    # the names of the failed tests (jest marks them with ✕), or the suite's own error
    what=$(grep -E '^\s+✕ ' "$log" | sed -E 's/^\s+✕ //; s/ \([0-9.]+ m?s\)$//' | paste -sd ';' -)
    [ -n "$what" ] || what="the suite did not run (exit $rc; see the log)"
  fi
  row=$(printf '%s\t%s\t%s\t%s\t%s\t%s' "$(date -u +%FT%TZ)" "$seed" "$runs" "$result" "$secs" "$what")
  echo "$row" >>"$tally"
  echo "$row" >>"$sweep"
  echo "[fuzz-seeds] $i/$n seed $seed: $result ($secs s)"
done

echo
echo "== tally of this sweep ($n seeds, $runs runs a property): $passed passed, $failed failed"
printf 'date\tseed\truns\tresult\tseconds\tfailed\n'
cat "$sweep"
if [ "$failed" -gt 0 ]; then
  echo
  echo "== failures"
  while IFS=$'\t' read -r _ seed _ result _ what; do
    [ "$result" = FAIL ] || continue
    echo "seed $seed: $what"
    # what failed: each failed test's first message line and fast-check's "Caused by" lines, at most eight
    { awk '/^  ● /{ getline; while ($0 ~ /^[[:space:]]*$/ && (getline) > 0) {}; print }' "$out/seed-$seed.log"
      grep -E '^\s+Caused by: ' "$out/seed-$seed.log"; } | sed -E 's/^\s+/  /' | awk '!seen[$0]++' | head -8
    echo "  log: $out/seed-$seed.log"
    echo "  replay: $(replay "$seed")"
  done <"$sweep"
fi
[ "$failed" -eq 0 ]
