#!/usr/bin/env bash
# 0782-join-versioned.sh - a join with as_of on a versioned table (KIP-889): 30 stations'
# calibrations, one to six versions each (valid_from), written to the table's topic in random
# order; 2,000 readings over 4 partitions (some before a station's first version, some of
# stations without any), read by two instances, one killed with SIGKILL midway. Every reading
# must carry the offset of the calibration valid at its event time (tests/ref/versioned_ref.py).
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref/versioned_ref.py
SEED=${SEED_0782:-$RANDOM}
echo "# seed $SEED (SEED_0782=$SEED repeats the data)"
ulimit -c 0
mkdir -p "$TMP/gen"
$PY "$REF" gen "$SEED" "$TMP/gen"
topology_header it-0782 >"$TMP/topo.yaml"
cat >>"$TMP/topo.yaml" <<YAML
nodes:
  - name: readings
    type: kafka_source
    topic: it0782.in
    partitions: 4
    time: t
  - name: calibrated
    type: join
    from: readings
    table: calibrations
    key: st
    as_of: ts()
    fields: {offset: offset}
  - name: out
    type: kafka_sink
    from: calibrated
    topic: it0782.out
    partitions: 2
  - name: calibrations
    type: table
    topic: it0782.cal
    global: true
    versioned: true
    time: valid_from
    history_retention: 30d
YAML
start_broker --topology "$TMP/topo.yaml" || { nok "broker starts"; exit 1; }
check "spate check accepts the topology" bash -c "'$SPATE_BIN' check '$TMP/topo.yaml' >/dev/null"
check "the calibrations are produced" $KT produce "$BOOT" it0782.cal "$TMP/gen/cal.tsv"
SPATE_STATE_DIR=$TMP/state-a start_spate a "$TMP/topo.yaml"
SPATE_STATE_DIR=$TMP/state-b start_spate b "$TMP/topo.yaml"
split -n l/2 -d "$TMP/gen/in.tsv" "$TMP/part."
check "the first half of the readings is produced" $KT produce "$BOOT" it0782.in "$TMP/part.00" --partitioned
wait_count 30 it0782.out 200 || nok "output flows within 30 s"
kill_spate a
echo "# killed a with SIGKILL after $($KT count "$BOOT" it0782.out) outputs"
SPATE_STATE_DIR=$TMP/state-a start_spate a "$TMP/topo.yaml"
check "the second half is produced" $KT produce "$BOOT" it0782.in "$TMP/part.01" --partitioned
exact() { $KT consume "$BOOT" it0782.out --idle 0.5 >"$TMP/out.jsonl" && $PY "$REF" compare "$TMP/gen" "$TMP/out.jsonl" >/dev/null; }
check "every reading is joined within 60 s" wait_for 60 exact
tap_relay "" < <($PY "$REF" compare "$TMP/gen" "$TMP/out.jsonl")
dl=$($KT count "$BOOT" it-0782-dlq 2>/dev/null || echo 0)
check "nothing dead-lettered ($dl)" [ "${dl:-0}" -eq 0 ]
