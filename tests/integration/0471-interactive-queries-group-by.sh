#!/usr/bin/env bash
# 0471-interactive-queries-group-by.sh - interactive queries (`spate run --http`, /state) of a
# window with group_by, whose windows live in the tasks of its repartition topic (5 partitions),
# not of its source topic (4): two instances, records produced with known values (12 groups, each
# fed by every source partition; record keys unrelated to the groups), emit: update. Once the
# output topic equals tests/ref/windows_ref.py's reference, tests/ref/iq_groups_ref.py asks BOTH
# instances, for every group, its value, its history (whole, from/to, limit) and scans, compares
# every row with the reference and checks that the instance which read the state holds the group's
# repartition partition (by Kafka's murmur2, computed in Python) - so each instance answers some
# groups itself and forwards the others; a group that does not exist answers 404. Then one instance
# is killed with SIGKILL and, once the survivor holds every partition, the same answers from it.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref
N=${N_0471:-3000}
NODE=by_group

$PY "$REF/gen_window_records.py" --seed 471 --records "$N" --grace 300 |
        $PY "$REF/reshape_records.py" --groups 12 >"$TMP/in.jsonl"
$PY "$REF/windows_ref.py" --type tumbling --size 1000 --grace 300 <"$TMP/in.jsonl" >"$TMP/ref.jsonl"
# Each record to its own partition ("p"), with a record key of its own: the group is the field.
$PY "$REF/window_topics.py" produce-lines "$TMP/in.jsonl" /dev/stdout |
        awk -F'\t' -v OFS='\t' '{ $2 = "r" $1 "-" NR; print }' >"$TMP/in.tsv"

topology_header it-0471 >"$TMP/topo.yaml"
cat >>"$TMP/topo.yaml" <<EOF
nodes:
  - name: records
    type: kafka_source
    topic: it0471.in
    partitions: 4
    time: t
  - name: $NODE
    type: window
    from: records
    window: tumbling
    size: 1s
    grace: 300ms
    group_by: key
    partitions: 5
    retention: 1h                  # every window stays queryable
    emit: update
    aggregates:
      count: count()
      sum: sum(v)
      mean: mean(v)
      min: min(v)
      max: max(v)
      first: first(v)
      last: last(v)
      count_distinct: count_distinct(v)
  - name: out
    type: kafka_sink
    from: $NODE
    topic: it0471.out
    compacted: true
EOF
start_broker --topology "$TMP/topo.yaml" || { nok "broker starts"; exit 1; }

port=$(free_port 2)
A=http://127.0.0.1:$port B=http://127.0.0.1:$((port + 1))
start() { start_spate "$1" "$TMP/topo.yaml" SPATE_HTTP="${2#http://}" SPATE_STATE_DIR="$TMP/state-$1"; }
start a "$A"
check "instance a is assigned partitions" wait_for 30 grep -qs "assigned [1-9]" "$TMP/spate-a.log"
start b "$B"
check "instance b is assigned partitions" wait_for 30 grep -qs "assigned [1-9]" "$TMP/spate-b.log"
check "produce $N records to 4 partitions" $KT produce "$BOOT" it0471.in "$TMP/in.tsv" --partitioned

exact() {
        $KT consume "$BOOT" it0471.out --idle 0.5 >"$TMP/out.jsonl" &&
                $KT consume "$BOOT" it-0471-dlq --idle 0.5 >"$TMP/dlq.jsonl" &&
                $PY "$REF/window_topics.py" got "$TMP/out.jsonl" "$TMP/dlq.jsonl" >"$TMP/got.jsonl" &&
                $PY "$REF/compare_windows.py" 0471 "$TMP/ref.jsonl" "$TMP/got.jsonl" >/dev/null
}
check "the output topic equals the reference (every window and late record)" wait_for 90 exact

# ask URL=LOG...: the comparison, quietly until it holds (the state checkpointed after the
# output's commit; after the kill, the survivor holding every partition), then as checks.
ask() {
        local args=(check "$NODE" "$TMP/ref.jsonl" "it-0471-$NODE-repartition:5" it0471.in:4 "$@")
        check "the answers of $* equal the reference" wait_for 60 $PY "$REF/iq_groups_ref.py" "${args[@]}" -q
        tap_relay "" < <($PY "$REF/iq_groups_ref.py" "${args[@]}")
}
ask "$A=$TMP/spate-a.log" "$B=$TMP/spate-b.log"

# The loader splits the window (its internal node $NODE-repartition reads the records), but the
# window's series count them as before the split: over both instances, every record once.
records_in() {
        curl -s "$1/metrics" | sed -n "s/^spate_node_records_in_total{node=\"$2\"} //p"
}
in_a=$(records_in "$A" "$NODE") in_b=$(records_in "$B" "$NODE")
check "the window's records_in over both instances is every record ($in_a + $in_b of $N)" \
        [ "$(( ${in_a:-0} + ${in_b:-0} ))" -eq "$N" ]
check "no series of the internal node" [ -z "$(records_in "$A" "$NODE-repartition")$(records_in "$B" "$NODE-repartition")" ]

kill_spate a
ok "killed instance a with SIGKILL"
check "b holds every partition of the repartition topic" wait_for 60 \
        bash -c "grep 'assigned [0-9]* partitions' '$TMP/spate-b.log' | tail -1 | grep -o 'repartition\[' | wc -l | grep -qx 5"
ask "$B=$TMP/spate-b.log"
check_sigterm b
