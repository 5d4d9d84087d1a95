#!/usr/bin/env bash
# 0851-corrections-groupby-apart.sh - window corrections with group_by (0781's topology and
# reference: tests/corrections_crash.sh, tests/ref/corrections_ref.py) whose source partitions
# start apart: partition 0 whole first, partition 1 once the job committed partition 0, partition
# 2 once it committed partition 1. Until partition 2 starts, the window half's stream time (the
# least of its source partitions') holds every window open, while partition 0's own stream time
# has closed most of them: its versions of those windows must be revisions or dead letters by
# partition 0's time alone, as the reference says. The windows go to Kafka and, beside it, to a
# SQL history (sql_sink versioned, history_key: emit on change; docs/exactness.md section 7).
# Through three crashes at different moments:
#   1. a SIGKILL as soon as partition 1's second half is produced (it is being consumed);
#   2. SPATE_CRASH_AT=mid_outputs: an abort at the K-th window emitted, once partition 2 closes
#      the windows of every partition (K random);
#   3. SPATE_CRASH_AT=after_meta: after the restart, an abort in its first commit with outputs,
#      once the outputs are acknowledged and the SQL transaction committed, as the first meta
#      record is produced: no frame of that commit counts, so the last run replays them all and
#      the history must not append any of their rows again.
# Kafka: every message a value its window had once closed, the last one its final value, the
# dead letters exactly the late readings with their reason. SQL: each window's history rows are
# values it had, in order, none equal to the one before, the last its final value; the current
# table the final value of each station's latest window.
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/corrections_crash.sh"
corrections_crash_setup 0851 "    group_by: key()
"
# The windows into a SQL history too (a fan-out beside the Kafka sink): emit-on-change by
# history_key, where a replay of an unsealed frame must append nothing.
cat >>"$TMP/topo.yaml" <<YAML
  - name: history
    type: sql_sink
    from: hourly
    database: $TMP/h.db
    mode: versioned
    table: hist
    current_table: cur
    key: [station]
    newer_by: window_start
    history_key: [station, window_start]
    version_column: emitted_ms
    columns:
      station: text not null
      window_start: bigint not null
      n: bigint not null
      sum: double
      mean: double
      sd: double
      hot: bigint
    values:
      station: key
YAML
history() { $PY "$REF/corrections_ref.py" history "$TMP/in.tsv" "$TMP/h.db" "$@"; }
t0=$SECONDS
for p in 0 1 2; do grep -P "^$p\t" "$TMP/in.tsv" >"$TMP/in.tsv.p$p"; done
split -n l/2 -d "$TMP/in.tsv.p1" "$TMP/in.tsv.p1."
# consumed P [N]: the job committed partition P's offsets up to N (default: all its records).
consumed() {
        local want=${2:-$(wc -l <"$TMP/in.tsv.p$1")}
        $KT committed "$BOOT" it-0851 it0851.in 2>/dev/null | awk -v p="$1" -v w="$want" '$1 == p && $2 >= w { f = 1 } END { exit !f }'
}
# crash_start STEP K: the instance, to abort itself at STEP once it emitted K windows.
crash_start() { SPATE_CRASH_AT=$1 SPATE_CRASH_AFTER_OUTPUTS=$2 start_spate a "$TMP/topo.yaml"; }
# aborted STEP: the instance started by crash_start exits, having aborted at STEP.
aborted() {
        wait_for 60 bash -c "! kill -0 $SPATE_PID_a 2>/dev/null" && wait "$SPATE_PID_a" 2>/dev/null
        grep -q "SPATE_CRASH_AT=$1: aborting" "$TMP/spate-a.log"
}
ulimit -c 0

start
produce p0 || nok "produce partition 0"
check "partition 0 alone, consumed and committed" wait_for 30 consumed 0
produce p1.00 || nok "produce the first half of partition 1"
check "then the first half of partition 1, consumed and committed" wait_for 30 consumed 1 "$(wc -l <"$TMP/in.tsv.p1.00")"
echo "# $(outputs) messages while partitions 1 and 2 lag: revisions only (the window half closes nothing)"
produce p1.01 || nok "produce the second half of partition 1"
kill_spate a
echo "# $((SECONDS - t0)) s: killed with SIGKILL as partition 1's second half came in"
start
check "partition 1 consumed and committed after the restart" wait_for 30 consumed 1

kill -TERM "$SPATE_PID_a"; wait "$SPATE_PID_a" 2>/dev/null
k=$((10 + RANDOM % 60))
crash_start mid_outputs "$k"
produce p2 || nok "produce partition 2"
check "partition 2 closes windows; the instance aborts at the $k-th (SPATE_CRASH_AT=mid_outputs)" aborted mid_outputs
echo "# $((SECONDS - t0)) s: aborted after $(outputs) messages"
crash_start after_meta 1
check "restarted, it aborts in its first commit with outputs, as the first meta record goes (SQL committed)" aborted after_meta
echo "# $((SECONDS - t0)) s: aborted after $(outputs) messages"
from=$(wc -l <"$TMP/spate-a.log")
start
# drained: the last instance replayed what the aborted ones left unsealed and committed it all
drained() {
        consumed 0 && consumed 1 && consumed 2 && tail -n +"$from" "$TMP/spate-a.log" | grep -q "stores of 'hourly': [0-9]* tasks restored" &&
                [ "$($KT lag "$BOOT" it-0851 it-0851-hourly-repartition)" = 0 ]
}
check "every record consumed and committed, the repartition topic too" wait_for 40 drained
check "every window and dead letter exact within 30 s" wait_for 30 exact
verdict
check "the SQL history and current table exact within 30 s" wait_for 30 history -q
tap_relay "" < <(history)
revised=$(grep -o "closed windows revised so far (corrections" "$TMP/spate-a.log" | wc -l)
check "the log tells of revisions by corrections ($revised lines)" [ "$revised" -gt 0 ]
check_sigterm a
same=$(tail -n +"$from" "$TMP/spate-a.log" | grep -o '[0-9]* unchanged (history_key)' | awk '{s += $1} END {print s + 0}')
check "the last run replayed the unsealed frames: $same rows equal to their window's latest version not appended" \
        [ "$same" -gt 0 ]
echo "# took $((SECONDS - t0)) s"
