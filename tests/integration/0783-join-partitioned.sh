#!/usr/bin/env bash
# 0783-join-partitioned.sh - a join on a table partitioned like the stream (global: false, a
# KTable): 300 stations' rows (some rewritten, some deleted) and 3,000 readings, both topics
# keyed by station over 4 partitions; two instances, each holding only the table partitions of
# the stream partitions it is assigned, one killed with SIGKILL midway (its partitions move and
# are read again by the other). Every reading must carry its station's final row
# (tests/ref/partitioned_ref.py), and neither instance holds the whole table.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref/partitioned_ref.py
SEED=${SEED_0783:-$RANDOM}
echo "# seed $SEED (SEED_0783=$SEED repeats the data)"
ulimit -c 0
mkdir -p "$TMP/gen"
$PY "$REF" gen "$SEED" "$TMP/gen"
topology_header it-0783 >"$TMP/topo.yaml"
cat >>"$TMP/topo.yaml" <<YAML
nodes:
  - name: readings
    type: kafka_source
    topic: it0783.in
    partitions: 4
  - name: with_station
    type: join
    from: readings
    table: stations
    key: key()
    fields: {name: name, alt: alt}
  - name: out
    type: kafka_sink
    from: with_station
    topic: it0783.out
    partitions: 2
  - name: stations
    type: table
    topic: it0783.st
    partitions: 4                  # global: false - partitioned like it0783.in
YAML
start_broker --topology "$TMP/topo.yaml" || { nok "broker starts"; exit 1; }
check "the station rows are produced (by key)" $KT produce "$BOOT" it0783.st "$TMP/gen/st.tsv" --empty-is-null
SPATE_STATE_DIR=$TMP/state-a start_spate a "$TMP/topo.yaml"
SPATE_STATE_DIR=$TMP/state-b start_spate b "$TMP/topo.yaml"
split -n l/2 -d "$TMP/gen/in.tsv" "$TMP/part."
two() { grep -q "assigned [1-3] partitions" "$TMP/spate-a.log" && grep -q "assigned [1-3] partitions" "$TMP/spate-b.log"; }
wait_for 30 two || echo "# the two instances did not share the partitions within 30 s"
check "the first half of the readings is produced (by key)" $KT produce "$BOOT" it0783.in "$TMP/part.00"
wait_count 30 it0783.out 300 || nok "output flows within 30 s"
held=$(grep -ho "stations: [0-9]* rows in the partitions held here" "$TMP/spate-a.log" "$TMP/spate-b.log" | awk '{print $2}' | sort -n | tail -1)
total=$(cut -f1 "$TMP/gen/st.tsv" | sort -u | wc -l)
check "an instance holds part of the table (at most $held rows of $total keys)" test "${held:-0}" -gt 0 -a "${held:-0}" -lt "$total"
kill_spate a
echo "# killed a with SIGKILL after $($KT count "$BOOT" it0783.out) outputs"
SPATE_STATE_DIR=$TMP/state-a start_spate a "$TMP/topo.yaml"
check "the second half is produced" $KT produce "$BOOT" it0783.in "$TMP/part.01"
exact() { $KT consume "$BOOT" it0783.out --idle 0.5 >"$TMP/out.jsonl" && $PY "$REF" compare "$TMP/gen" "$TMP/out.jsonl" >/dev/null; }
check "every reading is joined within 60 s" wait_for 60 exact
tap_relay "" < <($PY "$REF" compare "$TMP/gen" "$TMP/out.jsonl")
dl=$($KT count "$BOOT" it-0783-dlq 2>/dev/null || echo 0)
check "nothing dead-lettered ($dl)" [ "${dl:-0}" -eq 0 ]
