#!/usr/bin/env bash
# 0200-map-filter-explode.sh - 200,000 JSON records (some malformed) through a
# map/filter/explode topology on the embedded broker, compared record by record
# with an independent Python reference; bad records land in the DLQ with reasons.
. "$SPATE_ROOT/tests/lib.sh"
here=$SPATE_ROOT/tests/integration
topo=$here/0200-map-filter-explode.yaml
N=${N_0200:-200000}

read -r n_sum n_min n_dlq < <($PY "$SPATE_ROOT/tests/ref/map_filter_explode.py" gen "$N" "$TMP/in.tsv" "$TMP/expected.json")
echo "# expecting $n_sum summary, $n_min minutes, $n_dlq DLQ records"
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
check "spate check accepts the topology" "$SPATE_BIN" check "$topo"
check "a second broker on the same ports says which port is in use, exit 1" bash -c '"$0" broker --listen "$1" \
        >/dev/null 2>"$2"; [ $? -eq 1 ] && grep -q "port ${1##*:} is in use" "$2"' "$SPATE_BIN" "$BOOT" "$TMP/busy.log"
check "produce $N input records (watermarks confirm all kept)" $KT produce "$BOOT" it0200.in "$TMP/in.tsv"
start_spate a "$topo"
check "results and DLQ complete within 90 s" wait_count 90 it0200.minutes "$n_min"
wait_count 30 it0200.summary "$n_sum"; wait_count 30 it-0200-dlq "$n_dlq"
kill -TERM "$SPATE_PID_a"; wait "$SPATE_PID_a"; rc=$?
check "spate run exits 0 on SIGTERM" [ "$rc" -eq 0 ]
check "it committed and left the group on shutdown" grep -q "leaving the group" "$TMP/spate-a.log"
$KT consume "$BOOT" it0200.summary --idle 2 >"$TMP/summary.jsonl"
$KT consume "$BOOT" it0200.minutes --idle 2 >"$TMP/minutes.jsonl"
$KT consume "$BOOT" it-0200-dlq --idle 2 >"$TMP/dlq.jsonl"
$PY "$SPATE_ROOT/tests/ref/map_filter_explode.py" compare "$TMP/expected.json" "$TMP/summary.jsonl" \
        "$TMP/minutes.jsonl" "$TMP/dlq.jsonl" | while read -r status num rest; do
        if [ "$status" = ok ]; then ok "${rest#- }"; elif [ "$status" = "#" ]; then echo "# $num $rest"; else nok "${rest#- }"; fi
done
