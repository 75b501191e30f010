#!/bin/sh
# Runs the full `npm test` N times in a row (default 5) with two CPU hogs (`yes > /dev/null` ×2)
# running beside it, started and stopped here, to show the suite stays green on a busy machine
# (CI often runs right after other work, on 2 cores). Exits 0 only when every run passed.
#
#   scripts/stress-test.sh        5 runs
#   scripts/stress-test.sh 3      3 runs
#
# Each run's output goes to $TMPDIR/memhunt-stress.XXXX/run-K.log; the summary names the failing
# runs and their failing tests.
set -u
cd "$(dirname "$0")/.."
RUNS=${1:-5}
case "$RUNS" in ''|*[!0-9]*) echo "stress-test.sh: the number of runs must be a positive integer, not '$RUNS'" >&2; exit 2 ;; esac
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/memhunt-stress.XXXXXX")
yes > /dev/null & HOG1=$!
yes > /dev/null & HOG2=$!
stop_hogs() { kill "$HOG1" "$HOG2" 2>/dev/null; wait "$HOG1" "$HOG2" 2>/dev/null; }
trap 'stop_hogs; exit 130' INT TERM
trap stop_hogs EXIT
echo "stress-test: $RUNS × npm test beside 2 CPU hogs (pids $HOG1 $HOG2); logs in $LOGS"
failed=0
k=1
while [ "$k" -le "$RUNS" ]; do
  start=$(date +%s)
  if npm test > "$LOGS/run-$k.log" 2>&1; then status=pass; else status=FAIL; failed=$((failed + 1)); fi
  secs=$(( $(date +%s) - start ))
  summary=$(grep -E '^# (pass|fail) ' "$LOGS/run-$k.log" | tr '\n' ' ')
  echo "run $k/$RUNS: $status in ${secs}s ($summary) load $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$status" = FAIL ]; then grep -E '^not ok|^# Subtest|failureType|error:' "$LOGS/run-$k.log" | grep -B1 -A2 '^not ok' | head -20; fi
  k=$((k + 1))
done
echo "stress-test: $((RUNS - failed))/$RUNS runs green"
[ "$failed" -eq 0 ]
