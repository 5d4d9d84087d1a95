#!/usr/bin/env bash
# 0882-window-standby-failover.sh - standby replicas (num_standby_replicas: 1)
# of the `window` node: two instances of a tumbling count/sum per key over 4
# partitions, each keeping a warm copy of the other's tasks in its RocksDB by
# tailing their changelogs (operators/window/window_task.c, "standbys"). Once
# the first three fifths of the input are committed and the survivor's
# standbys have caught up (spate_standby_lag_records 0), the instance that
# joined first is killed with SIGKILL while the fourth fifth flows; the
# survivor takes its partitions, then gets the last fifth. Asserts that
# (a) the output equals the independent reference (tests/ref/windows_ref.py)
# exactly and (b) the survivor's restore of each failed partition started from
# a copy its standby kept warm and read only the changelog's tail past it
# (fewer records than the copy held), and that its restores counted records
# from the local copy (spate_store_restore_records_total{from="local"} > 0).
# STANDBY_0882=0 runs it without standbys: (b) then fails.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref
if [ -n "${SPATE_ASAN:-}" ]; then K=${K_0882:-2000}; else K=${K_0882:-6000}; fi
N=$((K * 8))
echo "# $N records of $K keys over 4 partitions, num_standby_replicas: ${STANDBY_0882:-1}"
ulimit -c 0
t0=$SECONDS

# Records in windows_ref.py's format: each key in one partition, event times
# over 3 hours (up to 3 windows a key), none late (grace 1000h).
$PY "$REF/gen_hourly_records.py" "$K" "$N" "$TMP/records.jsonl" --seed 882
$PY "$REF/window_topics.py" produce-lines "$TMP/records.jsonl" "$TMP/in.tsv"
$PY "$REF/windows_ref.py" --type tumbling --size 3600000 --grace 3600000000 --aggs count,sum \
        <"$TMP/records.jsonl" >"$TMP/expected.jsonl"

topology_header it-0882 >"$TMP/topo.yaml"
cat >>"$TMP/topo.yaml" <<EOF
num_standby_replicas: ${STANDBY_0882:-1}
nodes:
  - name: readings
    type: kafka_source
    topic: it0882.in
    partitions: 4
    time: t
  - name: win
    type: window
    from: readings
    window: tumbling
    size: 1h
    grace: 1000h
    aggregates:
      count: count()
      sum: sum(v)
  - name: out
    type: kafka_sink
    from: win
    topic: it0882.out
    compacted: true
    partitions: 2
EOF
start_broker --topology "$TMP/topo.yaml" || { nok "broker starts"; exit 1; }
HTTP_B=$(free_port 1)

start() { start_spate "$1" "$TMP/topo.yaml" SPATE_STATE_DIR="$TMP/state-$1" "${@:2}"; }  # NAME [VAR=value...]
metrics_b() { curl -s "http://127.0.0.1:$HTTP_B/metrics"; }
# b's standbys of a's tasks ($failed): their lag series, all 0.
caught_up() {
        metrics_b | awk -v want="$failed" '/^spate_standby_lag_records\{.*it-0882-win-changelog/ {
                        p = $0; sub(/.*partition="/, "", p); sub(/".*/, "", p)
                        if (index(" " want " ", " " p " ")) { n++; s += $NF } }
                END { exit !(n == split(want, w, " ") && s == 0) }'
}
exact() {
        $KT consume "$BOOT" it0882.out --idle 0.5 >"$TMP/out.jsonl"
        $KT consume "$BOOT" it-0882-dlq --idle 0.2 >"$TMP/dlq.jsonl"
        $PY "$REF/window_topics.py" got "$TMP/out.jsonl" "$TMP/dlq.jsonl" >"$TMP/got.jsonl" &&
                $PY "$REF/compare_windows.py" final "$TMP/expected.jsonl" "$TMP/got.jsonl" >"$TMP/compare.tap"
}

split -n l/5 -d "$TMP/in.tsv" "$TMP/part."
first3=$(cat "$TMP"/part.0[0-2] | wc -l)
start a
check "a holds the 4 partitions" wait_for 30 holds_partitions 4 a
start b SPATE_HTTP="127.0.0.1:$HTTP_B"
check "a and b hold 2 partitions each" wait_for 30 holds_partitions 2 a b
failed=$(grep "assigned 2 partitions" "$TMP/spate-a.log" | tail -1 | grep -o "it0882.in\[[0-9]\]" |
        sed -E "s/.*\[([0-9])\]/\1/" | tr '\n' ' ')
for f in "$TMP"/part.0[0-2]; do $KT produce "$BOOT" it0882.in "$f" --partitioned >/dev/null; done
check "three fifths committed within 60 s" wait_committed 60 it-0882 it0882.in "$first3"
check "b's standbys caught up with a's changelogs within 60 s" wait_for 60 caught_up
metrics_b | grep "^spate_standby_lag_records" | sed 's/^/# b: /'
log_mark b
$KT produce "$BOOT" it0882.in "$TMP/part.03" --partitioned >/dev/null &
producer=$!
kill_spate a
t_kill=$(date +%s.%N)
echo "# $((SECONDS - t0)) s: killed a (partitions $(echo $failed)) with SIGKILL while the fourth fifth flows"
took_over() { log_since b | grep -q "assigned 4 partitions"; }
check "b takes a's partitions within 60 s" wait_for 60 took_over
t_assigned=$(date +%s.%N)
check "produced the fourth fifth" wait "$producer"
check "produced the last fifth" $KT produce "$BOOT" it0882.in "$TMP/part.04" --partitioned
check "the output equals the reference within 90 s" wait_for 90 exact
tap_relay "after the failover: " < <(sed 's/^\(not \)\?ok [0-9]* - /\1ok - /' "$TMP/compare.tap")

# (b) each failed partition: restored from a standby's copy plus a tail shorter than it.
copies=0
for p in $failed; do
        check_restored_by b "partition $p" "store 'win' of 'win' partition $p restored:" b
        read -r _ local < <(warm_restore_counts "$(log_since b | grep "store 'win' of 'win' partition $p restored:" | head -1)")
        copies=$((copies + ${local:-0}))
done
from_local=$(metrics_b | sed -n 's/^spate_store_restore_records_total{node="win",store="win",from="local"} //p')
check "b's restores counted ${from_local:-no} changelog records from local copies, the failed partitions' $copies among them" \
        awk -v x="${from_local:-0}" -v c="$copies" 'BEGIN { exit !(c > 0 && x >= c) }'
dl=$($KT count "$BOOT" it-0882-dlq)
check "nothing dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
check_sigterm b
awk -v k="$t_kill" -v a="$t_assigned" 'BEGIN { printf "# from the kill: b assigned after %.1f s (session timeout %d ms)\n", a - k, '"$SPATE_SESSION_TIMEOUT_MS"' }'
echo "# took $((SECONDS - t0)) s"
