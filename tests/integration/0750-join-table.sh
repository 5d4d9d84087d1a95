#!/usr/bin/env bash
# 0750-join-table.sh - a stream joined left with a global table topic (rows, updates,
# tombstones, a malformed message) and inner with a table of dated folders (a refused
# newer folder with bad lines, an unfinished one, then a newer good one published while
# running), with a kill -9 and a second instance, on the embedded broker; every output row, null and dead letter is compared with
# an independent Python reference (tests/ref/join_ref.py), and counted end to end.
. "$SPATE_ROOT/tests/lib.sh"
here=$SPATE_ROOT/tests/integration
topo=$here/0750-join-table.yaml
N=${N_0750:-20000}
export MUNIS_DIR=$TMP/munis

read -r out1 dlq1 out2 dlq2 tdlq < <($PY "$SPATE_ROOT/tests/ref/join_ref.py" gen "$N" "$TMP")
echo "# expecting $out1 + $out2 outputs, $dlq1 + $dlq2 inner misses, $tdlq table dead letters"
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
check "spate check accepts the topology" "$SPATE_BIN" check "$topo"
check "produce the station table (updates, tombstones)" \
        $KT produce "$BOOT" it0750.stations "$TMP/stations.tsv" --empty-is-null
check "produce the first $((N / 2)) records" $KT produce "$BOOT" it0750.readings "$TMP/stream1.tsv"
start_spate a "$topo"
# kill -9 in the first phase: the restarted instance reads the station topic and the newest
# complete folder again before its first record, and replays what was not committed (with the
# same table contents, so the replayed rows are the same).
wait_count 30 it0750.out 1
kill -KILL "$SPATE_PID_a"; wait "$SPATE_PID_a" 2>/dev/null
start_spate b "$topo"
check "after kill -9, the first phase is joined and committed within 30 s" wait_committed 30 it-0750 it0750.readings $((N / 2))
check "its misses and the tables' bad input dead-lettered (at each start)" wait_count 10 it-0750-dlq $((dlq1 + 2 * tdlq))
check "the refused folder is logged with its bad lines" \
        grep -q "version $MUNIS_DIR/2026-12-02 has 2 bad lines (dead-lettered): not loaded" "$TMP/spate-b.log"
check "the newest valid complete folder is loaded instead" \
        grep -q "loaded version $MUNIS_DIR/2026-12-01, 200 rows" "$TMP/spate-b.log"
# A new folder is published the way the table expects: files first, _SUCCESS last.
mv "$TMP/munis-next/2026-12-04" "$MUNIS_DIR/"
check "the newer folder is picked up while running" \
        wait_for 10 grep -q "loaded version $MUNIS_DIR/2026-12-04" "$TMP/spate-b.log"
# A second instance joins: the stream's partitions are split, and each instance holds the
# whole station table (global) and the newest folder.
start_spate c "$topo"
check "a second instance takes some of the stream's partitions" \
        wait_for 30 grep -qE "assigned [1-9][0-9]* partitions: it0750.readings" "$TMP/spate-c.log"
check "it loaded the whole station table and the newest folder" \
        grep -q "loaded version $MUNIS_DIR/2026-12-04, 150 rows" "$TMP/spate-c.log"
check "produce the next $((N / 2)) records" $KT produce "$BOOT" it0750.readings "$TMP/stream2.tsv"
check "every input record committed within 30 s" wait_committed 30 it-0750 it0750.readings "$N"
kill -TERM "$SPATE_PID_b" "$SPATE_PID_c"; wait "$SPATE_PID_b"; rc=$?; wait "$SPATE_PID_c"; rc=$((rc + $?))
check "both instances exit 0 on SIGTERM" [ "$rc" -eq 0 ]
$KT consume "$BOOT" it0750.out --idle 1 >"$TMP/out.jsonl"
$KT consume "$BOOT" it-0750-dlq --idle 1 >"$TMP/dlq.jsonl"
# The station topic's bad message is dead-lettered at each of the 3 starts, the refused folder's
# lines at the first two (the third start finds a newer valid folder first).
$PY "$SPATE_ROOT/tests/ref/join_ref.py" compare "$TMP" "$TMP/out.jsonl" "$TMP/dlq.jsonl" $((2 * tdlq + 1)) |
        while read -r line; do
        case $line in "ok - "*) ok "${line#ok - }" ;; *) nok "${line#not ok - }" ;; esac
done
