#!/usr/bin/env bash
# run.sh - runs every unit test binary and integration script, counts TAP lines,
# and ends with the plain "N passed, N failed, N skipped" line CI reads.
# Integration scripts run SPATE_TEST_JOBS at a time (default 2): each has its own
# temp dir, broker and random ports, and waits for events, not for time. A script
# whose header has a line "# serial: <why>" runs alone, after the others.
set -u
cd "$(dirname "$0")/.."
: "${SPATE_BIN:?set by make test}" "${SPATE_TEST_BIN:?set by make test}"
export SPATE_BIN SPATE_TEST_BIN
export SPATE_ROOT=$PWD
export SHARED_DATA=${SHARED_DATA:-$PWD/../shared/data}
logdir=$(mktemp -d /tmp/spate-tests.XXXXXX)
pass=0 fail=0 skip=0 failed_names=()

# run_one NAME COMMAND...: runs one test, writes its report to $logdir/NAME.report
# and its counts ("passed failed skipped") to $logdir/NAME.counts.
run_one() {
        local name=$1; shift
        local base; base=$(basename "$name")
        local log="$logdir/$base.log" report="$logdir/$base.report"
        local t0=$SECONDS
        "$@" >"$log" 2>&1
        local rc=$?
        local p f s
        p=$(grep -cE '^ok [0-9]+' "$log" | head -1)
        s=$(grep -cE '^ok [0-9]+.*# SKIP' "$log" | head -1)
        f=$(grep -cE '^not ok [0-9]+' "$log" | head -1)
        p=$((p - s))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        if [ $((p + f + s)) -eq 0 ]; then f=1; echo "not ok - $name printed no result" >>"$log"; fi
        {
                printf '%-48s %4d passed %3d failed %3d skipped  %3ds\n' "$name" "$p" "$f" "$s" $((SECONDS - t0))
                if [ "$f" -gt 0 ]; then
                        grep -E '^not ok' "$log" | head -20 | sed 's/^/    /'
                        echo "    --- last lines of $log:"; tail -n 15 "$log" | sed 's/^/    /'
                fi
                grep -E '^ok [0-9]+.*# SKIP' "$log" | sed 's/^/    /'
        } >"$report"
        echo "$p $f $s" >"$logdir/$base.counts"
}

# collect NAME: prints a finished test's report and adds its counts to the totals.
collect() {
        local base p f s; base=$(basename "$1")
        cat "$logdir/$base.report"
        read -r p f s <"$logdir/$base.counts"
        pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
        [ "$f" -gt 0 ] && failed_names+=("$1")
}

# reap: waits until one of the running tests ends, collects it. (bash's `wait -n`
# misses a job that ended before it was called, so the lanes are polled.)
reap() {
        local pid
        while :; do
                for pid in "${!running[@]}"; do
                        kill -0 "$pid" 2>/dev/null && continue
                        wait "$pid"
                        collect "${running[$pid]}"; unset "running[$pid]"
                        return
                done
                sleep 0.2
        done
}

# run_lanes JOBS NAME...: integration scripts, JOBS at a time, reported as they end.
run_lanes() {
        local jobs=$1; shift
        local name
        declare -gA running=()
        for name in "$@"; do
                while [ ${#running[@]} -ge "$jobs" ]; do reap; done
                run_one "$name" bash "tests/integration/${name#integration/}.sh" &
                running[$!]=$name
        done
        while [ ${#running[@]} -gt 0 ]; do reap; done
}

filter=${1:-}
for t in "$SPATE_TEST_BIN"/test_*; do
        [ -x "$t" ] || continue
        [ -n "$filter" ] && [[ $(basename "$t") != *$filter* ]] && continue
        run_one "unit/$(basename "$t")" "$t"
        collect "unit/$(basename "$t")"
done
parallel=() serial=()
for t in tests/integration/[0-9]*.sh; do
        [ -f "$t" ] || continue
        [ -n "$filter" ] && [[ $(basename "$t") != *$filter* ]] && continue
        if grep -q '^# serial:' "$t"; then serial+=("integration/$(basename "$t" .sh)")
        else parallel+=("integration/$(basename "$t" .sh)"); fi
done
run_lanes "${SPATE_TEST_JOBS:-2}" "${parallel[@]}"
run_lanes 1 "${serial[@]}"
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]} (logs in $logdir)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
