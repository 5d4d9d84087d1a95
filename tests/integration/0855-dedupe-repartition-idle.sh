#!/usr/bin/env bash
# 0855-dedupe-repartition-idle.sh - `spate run --until-idle` of a dedupe with `repartition:
# true` ends only once the records it wrote to its repartition topic are read back and
# deduplicated: the sources are idle long before that topic is (a short idle time, the whole
# input waiting when the run starts, and a producer that holds its messages 2 s). One run must
# give the exact output, and end by the engine's check of the repartition topic's end, not
# after the minute's grace that ends a run whose partitions do not answer. (With the check
# removed, the run ended 100 ms after the source, with 9,299 of the 18,559 ids not out.)
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0855-dedupe-repartition-idle.yaml
N=${N_0855:-40000}
$PY "$SPATE_ROOT/tests/ref/dedupe_ref.py" gen-spread "$N" 4 "$TMP/in.tsv" "$TMP/copies.json"
start_broker --topology "$topo" --topic it0855.in:4 --topic it-0855-dd-repartition:4 \
        --topic it-0855-dd-seen_by_key-changelog:4 --topic it0855.out:2 --topic it-0855-dlq:1 ||
        { nok "broker starts"; exit 1; }
check "produce $N records" $KT produce "$BOOT" it0855.in "$TMP/in.tsv" --partitioned
t0=$(date +%s)
SPATE_STATE_DIR="$TMP/state" "$SPATE_BIN" run "$topo" --until-idle 100ms 2>"$TMP/spate.log"; rc=$?
took=$(($(date +%s) - t0))
check "spate run --until-idle exits 0 (rc $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || sed 's/^/# /' "$TMP/spate.log" | tail -n 30
check "the run ends by its own check of the repartition topic ($took s, under the 60 s grace)" [ "$took" -lt 50 ]
dedupe_exact it0855.out once
dedupe_report "one run: " once
dl=$($KT count "$BOOT" it-0855-dlq)
check "nothing dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
