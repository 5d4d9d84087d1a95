#!/usr/bin/env bash
# 0750-join-table.sh - a stream joined left with a global table topic (rows, updates,
# tombstones, a malformed message) and inner with a table of dated folders (a refused
# newer folder with bad lines, an unfinished one, then a newer good one published while
# running), on the embedded broker; every output row, null and dead letter is compared with
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
check "first phase joined within 30 s" wait_count 30 it0750.out "$out1"
check "its misses and the tables' bad input dead-lettered" wait_count 10 it-0750-dlq $((dlq1 + tdlq))
check "the refused folder is logged with its bad lines" \
        grep -q "version $MUNIS_DIR/2026-12-02 has 2 bad lines (dead-lettered): not loaded" "$TMP/spate-a.log"
check "the newest valid complete folder is loaded instead" \
        grep -q "loaded version $MUNIS_DIR/2026-12-01, 200 rows" "$TMP/spate-a.log"
# A new folder is published the way the table expects: files first, _SUCCESS last.
mv "$TMP/munis-next/2026-12-04" "$MUNIS_DIR/"
check "the newer folder is picked up while running" \
        wait_for 10 grep -q "loaded version $MUNIS_DIR/2026-12-04" "$TMP/spate-a.log"
check "produce the next $((N / 2)) records" $KT produce "$BOOT" it0750.readings "$TMP/stream2.tsv"
check "second phase joined within 30 s" wait_count 30 it0750.out $((out1 + out2))
wait_count 10 it-0750-dlq $((dlq1 + dlq2 + tdlq))
kill -TERM "$SPATE_PID_a"; wait "$SPATE_PID_a"; rc=$?
check "spate run exits 0 on SIGTERM" [ "$rc" -eq 0 ]
$KT consume "$BOOT" it0750.out --idle 1 >"$TMP/out.jsonl"
$KT consume "$BOOT" it-0750-dlq --idle 1 >"$TMP/dlq.jsonl"
$PY "$SPATE_ROOT/tests/ref/join_ref.py" compare "$TMP" "$TMP/out.jsonl" "$TMP/dlq.jsonl" | while read -r status rest; do
        if [ "$status" = ok ]; then ok "${rest#- }"; else nok "${rest#- }"; fi
done
