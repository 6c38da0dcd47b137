#!/usr/bin/env bash
# Runs a command beside CPU hogs: N busy-loop processes (default 2) started
# first, stopped (by their own ids) when the command ends, is interrupted or
# fails. The command's exit status is this script's. Issue 26: "npm test green
# beside two CPU hogs".
#
#   scripts/hogs.sh [-n N] COMMAND [ARGS...]
#   scripts/hogs.sh npx jest test/heatmap.async.test.ts test/cancel.test.ts
#   HOGS=3 scripts/hogs.sh npm test
#
# Each hog is a shell loop doing nothing but spin (one CPU each, at normal
# priority); the load average is printed before and after.
set -u
n=${HOGS:-2}
if [ "${1:-}" = "-n" ]; then
  n=$2
  shift 2
fi
if [ $# -eq 0 ]; then
  echo "usage: scripts/hogs.sh [-n N] COMMAND [ARGS...]" >&2
  exit 2
fi
case $n in ''|*[!0-9]*) echo "scripts/hogs.sh: -n wants a count, got '$n'" >&2; exit 2 ;; esac

pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  pids=()
}
trap stop EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

for ((i = 0; i < n; i++)); do
  bash -c 'while :; do :; done' &
  pids+=($!)
done
echo "[hogs] $n busy loop(s): ${pids[*]}; load before: $(cat /proc/loadavg)" >&2
start=$(date +%s)
"$@"
status=$?
echo "[hogs] command exited $status after $(( $(date +%s) - start )) s; load after: $(cat /proc/loadavg)" >&2
stop
exit $status
