#!/usr/bin/env bash
# 0880-standby-failover.sh - standby replicas (num_standby_replicas: 1): two
# instances of a `dedupe` topology (an engine-owned store) over 4 partitions,
# each keeping a warm copy of the other's tasks by tailing their changelogs.
# While input flows, the instance that joined first is killed with SIGKILL;
# the survivor takes its partitions. Asserts that (a) the output equals the
# independent reference exactly (tests/ref/dedupe_ref.py: every id once, its
# first record) and (b) the survivor's restore of each failed partition found
# a copy a standby kept warm and read only the changelog's tail past it (less
# than the copy held). Reports the time from the kill to the survivor's
# assignment (the group's session timeout), its restore, and the complete
# output. STANDBY_0880=0 runs it without standbys: (b) then fails.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0880-standby-failover.yaml
REF=$SPATE_ROOT/tests/ref
if [ -n "${SPATE_ASAN:-}" ]; then N=${N_0880:-60000}; else N=${N_0880:-200000}; fi
echo "# $N records over 4 partitions, num_standby_replicas: ${STANDBY_0880:-1}"
ulimit -c 0
t0=$SECONDS

$PY "$REF/dedupe_ref.py" gen "$N" 4 10000 "$TMP/in.tsv" "$TMP/expected.json"
start_broker --topology "$topo" --topic it0880.in:4 --topic it-0880-dd-seen-changelog:4 \
        --topic it0880.out:2 --topic it-0880-dlq:1 || { nok "broker starts"; exit 1; }

start() { start_spate "$1" "$topo" SPATE_STATE_DIR="$TMP/state-$1"; }  # NAME: with its own state directory

# Four fifths flow while both run; the last fifth (whose ids repeat ids of
# the fourth) once the survivor holds every partition, so that the restored
# copies decide.
split -n l/5 -d "$TMP/in.tsv" "$TMP/part."
start a
check "a holds the 4 partitions" wait_for 30 holds_partitions 4 a
start b
check "a and b hold 2 partitions each" wait_for 30 holds_partitions 2 a b
( for f in "$TMP"/part.0[0-3]; do $KT produce "$BOOT" it0880.in "$f" --partitioned >/dev/null || exit 1; done ) &
producer=$!
# The kill falls while input flows, once a's commits fill its changelogs.
wait_count 60 it0880.out $((N * 3 / 10)) || nok "output reaches 30 % within 60 s"
failed=$(grep "assigned 2 partitions" "$TMP/spate-a.log" | tail -1 | grep -o "it0880.in\[[0-9]\]" | sed -E "s/.*\[([0-9])\]/\1/")
log_mark b
kill_spate a
t_kill=$(date +%s.%N)
echo "# $((SECONDS - t0)) s: killed a (partitions $(echo $failed)) with SIGKILL"
took_over() { log_since b | grep -q "assigned 4 partitions"; }
check "b takes a's partitions within 60 s" wait_for 60 took_over
t_assigned=$(date +%s.%N)
check "produced 4 of 5 parts" wait "$producer"
check "produced the last part" $KT produce "$BOOT" it0880.in "$TMP/part.04" --partitioned
check "the output equals the reference within 60 s" wait_for 60 dedupe_exact it0880.out
t_exact=$(date +%s.%N)
dedupe_report "after the failover: "

# (b) each failed partition: restored from a standby's copy plus a tail shorter than it.
for p in $failed; do
        check_restored_by b "partition $p" "partition $p restored:" b
done
dl=$($KT count "$BOOT" it-0880-dlq)
check "nothing dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
kill -TERM "$SPATE_PID_b" 2>/dev/null; wait "$SPATE_PID_b" 2>/dev/null
awk -v k="$t_kill" -v a="$t_assigned" -v x="$t_exact" 'BEGIN { printf "# from the kill: b assigned after %.1f s (session timeout %d ms), output complete after %.1f s\n", a - k, '"$SPATE_SESSION_TIMEOUT_MS"', x - k }'
log_since b | grep -o "partition [0-9] restored: [0-9]* changelog records applied in [0-9.]* s" | sed 's/^/# b: /'
echo "# took $((SECONDS - t0)) s"
