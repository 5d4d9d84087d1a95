#!/usr/bin/env bash
# 0030-fuzz.sh - the libFuzzer targets of tests/fuzz (every parser of untrusted
# bytes): each replays its whole corpus, so a crash or leak fixed once stays
# fixed, then fuzzes for FUZZ_TEST_SECONDS (default 3) from that corpus. Any
# sanitizer report, leak or timeout fails. `make fuzz` runs them for longer.
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/fuzz/lib.sh"
cd "$SPATE_ROOT"
secs=${FUZZ_TEST_SECONDS:-3}
if [ -z "${SPATE_FUZZ_BIN:-}" ] || [ ! -d "$SPATE_FUZZ_BIN" ]; then
        skip "fuzz targets" "SPATE_FUZZ_BIN is not set (make test builds them with clang into build/fuzz/fuzz)"
        exit 0
fi
export TMPDIR=$TMP
for t in $(fuzz_targets); do
        corpus=tests/fuzz/corpus/$t n=$(ls "$corpus" 2>/dev/null | wc -l)
        if [ ! -x "$SPATE_FUZZ_BIN/$t" ]; then
                nok "fuzz $t: $SPATE_FUZZ_BIN/$t was not built"
                continue
        fi
        log=$TMP/$t.replay.log
        if [ "$n" -gt 0 ] && fuzz_target "$SPATE_FUZZ_BIN" "$t" -runs=0 "$corpus" >"$log" 2>&1; then
                ok "fuzz $t: its $n corpus inputs run without a crash or leak"
        else
                nok "fuzz $t: corpus replay ($n inputs) failed"; grep -m3 -E 'ERROR|runtime error|SUMMARY' "$log"
        fi
        log=$TMP/$t.fuzz.log
        mkdir -p "$TMP/new-$t"
        if fuzz_target "$SPATE_FUZZ_BIN" "$t" -max_total_time="$secs" -print_final_stats=1 \
                -artifact_prefix="$TMP/$t-" "$TMP/new-$t" "$corpus" >"$log" 2>&1; then
                ok "fuzz $t: $(fuzz_stat "$log" number_of_executed_units) runs in ${secs}s without a crash or leak"
        else
                nok "fuzz $t: fuzzing found a failure"
                grep -m3 -E 'ERROR|runtime error|SUMMARY' "$log"
                for a in "$TMP/$t-"*; do
                        [ -f "$a" ] && echo "# reproducer ($a), base64: $(base64 -w0 "$a")"
                done
        fi
done
