#!/usr/bin/env bash
# run.sh - runs every unit test binary and integration script, counts TAP lines,
# and ends with the plain "N passed, N failed, N skipped" line CI reads.
set -u
cd "$(dirname "$0")/.."
: "${SPATE_BIN:?set by make test}" "${SPATE_TEST_BIN:?set by make test}"
export SPATE_BIN SPATE_TEST_BIN
export SPATE_ROOT=$PWD
export SHARED_DATA=${SHARED_DATA:-$PWD/../shared/data}
logdir=$(mktemp -d /tmp/spate-tests.XXXXXX)
pass=0 fail=0 skip=0 failed_names=()

run_one() {  # name, command...
        local name=$1; shift
        local log="$logdir/$(basename "$name").log"
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
        pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
        printf '%-48s %4d passed %3d failed %3d skipped  %3ds\n' "$name" "$p" "$f" "$s" $((SECONDS - t0))
        if [ "$f" -gt 0 ]; then
                failed_names+=("$name")
                grep -E '^not ok' "$log" | head -20 | sed 's/^/    /'
                echo "    --- last lines of $log:"; tail -n 15 "$log" | sed 's/^/    /'
        fi
        grep -E '^ok [0-9]+.*# SKIP' "$log" | sed 's/^/    /'
}

filter=${1:-}
for t in "$SPATE_TEST_BIN"/test_*; do
        [ -x "$t" ] || continue
        [ -n "$filter" ] && [[ $(basename "$t") != *$filter* ]] && continue
        run_one "unit/$(basename "$t")" "$t"
done
for t in tests/integration/[0-9]*.sh; do
        [ -f "$t" ] || continue
        [ -n "$filter" ] && [[ $(basename "$t") != *$filter* ]] && continue
        run_one "integration/$(basename "$t" .sh)" bash "$t"
done
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]} (logs in $logdir)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
