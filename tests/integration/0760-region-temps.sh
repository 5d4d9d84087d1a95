#!/usr/bin/env bash
# 0760-region-temps.sh - topology/region_temps.yaml as shipped, into SQLite, on the embedded broker
# with two instances and kill -9s: the generator's readings (tests/tools/gen_region_temps.py: 8
# hours across France, other countries, late readings within the grace and too late, points in
# no region's box) are produced an hour at a time, and each hour's closing readings only once the
# hour before the previous one is in the table, the way hours close live (an hour apart). Every row
# of region_hourly_temps (mean, count, temperature3HoursBefore and its nulls) and every dead letter
# must equal the independent reference (tests/ref/region_temps_ref.py).
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref/region_temps_ref.py
topo=$SPATE_ROOT/topology/region_temps.yaml
HOURS=8
export REGION_TEMPS_APP=it-0760 READINGS_TOPIC=it0760.readings HOURLY_TOPIC=it0760.hourly \
       SQL_DB=$TMP/region_temps.db COMMIT_INTERVAL=500ms
mkdir -p "$TMP/gen"
$PY "$SPATE_ROOT/tests/tools/gen_region_temps.py" 760 "$TMP/gen" "$HOURS"
start_broker --topology "$topo" --topic it-0760-dlq:1 || { nok "broker starts"; exit 1; }
quiet() { "$@" >/dev/null; }
check "spate check accepts the topology (bbox_first_match)" quiet "$SPATE_BIN" check "$topo"
check "spate check accepts it with REGION_MODE=polygon" quiet env REGION_MODE=polygon "$SPATE_BIN" check "$topo"
run() { SPATE_STATE_DIR=$TMP/state-$1 start_spate "$1" "$topo"; }
kill9() {
        eval "kill -KILL \$SPATE_PID_$1; wait \$SPATE_PID_$1" 2>/dev/null
        echo "# killed $1 with SIGKILL after phase $2"
        run "$1"
}
run a
run b
# Phase K closes hour K-1 (whose row looks up hour K-4); it is produced once hour K-2 is in the
# table, so hour K-4 was written to the hourly topic at least two commits before.
for ((k = 0; k <= HOURS; k++)); do
        if [ $k -ge 2 ] && ! wait_for 30 $PY "$REF" ready "$TMP/gen" "$SQL_DB" $((k - 2)); then
                nok "hour $((k - 2)) reaches the table within 30 s"
                break
        fi
        $KT produce "$BOOT" "$READINGS_TOPIC" "$TMP/gen/phase-$k.tsv" --partitioned >/dev/null 2>&1 ||
                nok "produce phase $k"
        case $k in
        3) kill9 a $k ;;
        6) kill9 b $k ;;
        esac
done
check "every closed hour reaches the table within 30 s" wait_for 30 $PY "$REF" compare "$TMP/gen" "$SQL_DB" -q
dlq_in() { $KT consume "$BOOT" it-0760-dlq --idle 1 >"$TMP/dlq.jsonl"; }
want_dlq=$($PY "$REF" expected "$TMP/gen" | tail -1 | $PY -c 'import json, sys; print(json.load(sys.stdin)["dead_letters"])')
check "the $want_dlq dead letters are in the DLQ" wait_count 20 it-0760-dlq "$want_dlq"
dlq_in
while read -r status rest; do
        case $status in
        ok) ok "${rest#- }" ;;
        not) nok "${rest#ok - }" ;;
        *) echo "$status $rest" ;;
        esac
done < <($PY "$REF" compare "$TMP/gen" "$SQL_DB" "$TMP/dlq.jsonl")
kill -TERM "$SPATE_PID_a" "$SPATE_PID_b"; wait "$SPATE_PID_a"; rc=$?; wait "$SPATE_PID_b"; rc=$((rc + $?))
check "both instances exit 0 on SIGTERM" [ "$rc" -eq 0 ]
