#!/usr/bin/env bash
# run.sh - runs every libFuzzer target in BINDIR for its time budget (or
# FUZZ_SECONDS each), one after another (the machine may have 2 cores), and
# prints execs and the result per target. New inputs go to build/fuzz/corpus/<target>; the repository corpus
# tests/fuzz/corpus/<target> is read, not written. With --merge, instead
# replaces the repository corpus by a small set of inputs of both that reach
# every code edge they reach (-set_cover_merge=1 -use_counters=0), plus the
# reproducers (crash-*), which stay whatever their coverage.
#
#   tests/fuzz/run.sh BINDIR [TARGET...]          each target's budget, or FUZZ_SECONDS
#   tests/fuzz/run.sh --merge BINDIR [TARGET...]
set -u
cd "$(dirname "$0")/../.."
. tests/fuzz/lib.sh
merge=0
[ "${1:-}" = --merge ] && { merge=1; shift; }
bindir=${1:?usage: run.sh [--merge] BINDIR [TARGET...]}; shift
work=build/fuzz/corpus
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(fuzz_targets)
export TMPDIR=${TMPDIR:-/tmp}
failed=0
[ $merge -eq 0 ] && printf '%-14s %7s %12s %9s  %s\n' target seconds execs exec/s result
for t in "${targets[@]}"; do
        repo=tests/fuzz/corpus/$t
        mkdir -p "$work/$t" "$repo" build/fuzz/artifacts
        if [ $merge -eq 1 ]; then
                fresh=build/fuzz/merged/$t
                rm -rf "$fresh" && mkdir -p "$fresh"
                if fuzz_target "$bindir" "$t" -set_cover_merge=1 -use_counters=0 "$fresh" "$repo" "$work/$t" \
                        >"build/fuzz/$t.merge.log" 2>&1; then
                        cp "$repo"/crash-* "$fresh/" 2>/dev/null
                        rm -rf "$repo" && mv "$fresh" "$repo"
                else
                        echo "$t: merge failed (build/fuzz/$t.merge.log)"; failed=1
                fi
                echo "$t: $(ls "$repo" | wc -l) files, $(du -sk --apparent-size "$repo" | cut -f1) KB"
                continue
        fi
        log=build/fuzz/$t.log
        secs=${FUZZ_SECONDS:-$(fuzz_budget "$t")}
        fuzz_target "$bindir" "$t" -max_total_time="$secs" -print_final_stats=1 \
                -artifact_prefix="build/fuzz/artifacts/$t-" "$work/$t" "$repo" >"$log" 2>&1
        rc=$?
        result=ok
        if [ $rc -ne 0 ]; then
                result="FAILED (rc $rc, log $log): $(grep -m1 -E 'ERROR|runtime error|abort' "$log")"
                failed=1
        fi
        printf '%-14s %7s %12s %9s  %s\n' "$t" "$secs" "$(fuzz_stat "$log" number_of_executed_units)" \
                "$(fuzz_stat "$log" average_exec_per_sec)" "$result"
done
exit $failed
