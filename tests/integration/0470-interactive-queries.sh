#!/usr/bin/env bash
# 0470-interactive-queries.sh - interactive queries (`spate run --http`, /state) across two
# instances of topology/iot_resample.yaml fed by Mosquitto, topology/iot_sensors.yaml and
# `spate iot-sim`, one resample instance killed with SIGKILL while readings flow and restarted on
# another port. Then BOTH instances are asked, for every sensor, its 1-minute history (whole and
# a from/to sub-range), its current value, its limits (the table), and a prefix scan;
# tests/ref/iq_ref.py compares every row with iot_ref.py's reference computed from the
# simulator's logs. Also: a key held by the killed instance answers 503 + Retry-After until its
# partitions move; the restarted instance answers 503 "restoring" before its assignment; bad
# queries get 4xx with a reason; the bearer token is required and never logged.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref
topo=$SPATE_ROOT/topology
T0=1767225600000                      # 2026-01-01T00:00:00Z
export IOT_APP=it-0470 IOT_RESAMPLE_APP=it-0470-resample IOT_RAW_TOPIC=it0470.raw \
        IOT_MINUTE_TOPIC=it0470.minutely MQTT_PREFIX=it0470 IOT_FILL_MAX=2m IOT_FILL_MAX_MS=120000
TOKEN=it0470-$RANDOM$RANDOM$RANDOM
export SPATE_HTTP_TOKEN=$TOKEN
start_mosquitto || { nok "mosquitto starts"; exit 1; }
start_broker --topology "$topo/iot_sensors.yaml" --topology "$topo/iot_resample.yaml" --topic it-0470-a-dlq:1 || { nok "broker starts"; exit 1; }

port=$(free_port 3)
R=http://127.0.0.1:$port S=http://127.0.0.1:$((port + 1)) R2=http://127.0.0.1:$((port + 2))
sensors() { SPATE_INSTANCE=$1 start_spate "$1" "$topo/iot_sensors.yaml"; }
resample() { SPATE_HTTP=${2#http://} STATE_DIR=$TMP/state-$1 start_spate "$1" "$topo/iot_resample.yaml"; }
# GET URL [curl args]: "status retry-after error" of the answer
ask() {
        local url=$1; shift
        curl -s -o "$TMP/body.json" -D "$TMP/head.txt" -w '%{http_code}' "$@" "$url"
        echo " $(tr -d '\r' <"$TMP/head.txt" | sed -n 's/^Retry-After: //Ip') $($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error", "-"))' "$TMP/body.json" 2>/dev/null)"
}
auth=(-H "Authorization: Bearer $TOKEN")

sensors a; resample r $R; resample s $S
check "the mqtt_source connects" wait_for 30 grep -qs "mqtt_source: connected to .* as spate-it-0470-a-readings" "$TMP/spate-a.log"
both() { grep -qs "^.*assigned" "$TMP/spate-r.log" && grep -qs "assigned" "$TMP/spate-s.log"; }
check "both resample instances are assigned partitions" wait_for 30 both

sim() {  # log, start, rounds, silent sensor
        "$SPATE_BIN" iot-sim --url "$MQTT_URL" --sensors "$topo/iot_sensors.json" --prefix it0470 \
                --start "$2" --rounds "$3" --silent "$4" --rate 400 --seed 47 --log "$TMP/$1" 2>>"$TMP/sim.err"
}
# 4 minutes of readings (store-t3 silent), then after a 2-minute pause 3 more with hall-t1 silent
# for good: the histories hold gap rows (null values, counts 0) and a stale one.
bg sim sim1.jsonl $T0 240 store-t3
sim=$!
check "readings reach the raw topic" wait_count 20 it0470.raw 600
kill_spate r
ok "killed resample instance r with SIGKILL at $($KT count "$BOOT" it0470.raw) raw records"
# Until its partitions move (session timeout), a key r held has no live owner: 503 + Retry-After.
unreachable=0
for id in $($PY -c 'import json,sys; print(" ".join(s["id"] for s in json.load(open(sys.argv[1]))["sensors"]))' "$topo/iot_sensors.json"); do
        a=$(ask "$S/state/per_minute/$id" "${auth[@]}")
        case $a in "503 1 owner_unreachable"|"503 1 rebalancing"|"503 1 restoring") unreachable=$((unreachable + 1));; esac
done
check "keys of the killed instance answer 503 with Retry-After ($unreachable sensors)" [ "$unreachable" -gt 0 ]
resample r2 $R2
first=""
until [ -n "$first" ] || ! kill -0 "$SPATE_PID_r2" 2>/dev/null; do
        a=$(ask "$R2/state/per_minute/hall-t1" "${auth[@]}"); case $a in 000*) sleep 0.05;; *) first=$a;; esac
done
check "the restarted instance's first answer is 503 restoring with Retry-After (got $first)" [ "$first" = "503 1 restoring" ]
[ -n "$first" ] || sed 's/^/# r2: /' "$TMP/spate-r2.log" | tail -n 20
wait "$sim"
sim sim2.jsonl $((T0 + 360000)) 180 hall-t1
check "the simulator had every message acknowledged" [ "$(grep -c "acknowledged; " "$TMP/sim.err")" -eq 2 ]
logs=$TMP/sim1.jsonl,$TMP/sim2.jsonl

consume() {
        $KT consume "$BOOT" it0470.raw --idle 0.5 >"$TMP/raw.jsonl"
        $KT consume "$BOOT" it0470.minutely --idle 0.5 >"$TMP/minutely.jsonl"
}
exact() { consume; $PY "$REF/iot_ref.py" compare "$topo/iot_sensors.json" "$logs" "$TMP/raw.jsonl" "$TMP/minutely.jsonl" -q >/dev/null; }
check "the 1-minute output topic equals the reference within 30 s" wait_for 30 exact
consume
tap() { while read -r s rest; do case $s in ok) ok "${rest#- }";; "#"*) echo "$s $rest";; *) nok "${rest#*- }";; esac; done < <("$@"); }
tap $PY "$REF/iq_ref.py" history "$topo/iot_sensors.json" "$logs" "$TMP/raw.jsonl" "$TOKEN" "$S" "$R2"

# Bad queries: 4xx with a reason; reads need the token.
check "no token: 401" [ "$(ask "$S/state/per_minute/hall-t1")" = "401  unauthorized" ]
check "a wrong token: 401" [ "$(ask "$S/state/per_minute/hall-t1" -H "Authorization: Bearer x$TOKEN")" = "401  unauthorized" ]
check "an unknown node: 404" [ "$(ask "$S/state/nope/hall-t1" "${auth[@]}")" = "404  not_found" ]
check "a history of a table: 400" [ "$(ask "$S/state/limits/hall-t1/history" "${auth[@]}")" = "400  bad_request" ]
check "a bad time: 400" [ "$(ask "$S/state/per_minute/hall-t1/history?from=yesterday" "${auth[@]}")" = "400  bad_request" ]
check "from after to: 400" [ "$(ask "$S/state/per_minute/hall-t1/history?from=2000&to=1000" "${auth[@]}")" = "400  bad_request" ]
check "limit=0: 400" [ "$(ask "$S/state/per_minute?limit=0" "${auth[@]}")" = "400  bad_request" ]
check "history arguments on a value: 400" [ "$(ask "$S/state/per_minute/hall-t1?from=0" "${auth[@]}")" = "400  bad_request" ]
check "a node without state: 400" [ "$(ask "$S/state/minutely/x" "${auth[@]}")" = "400  bad_request" ]
check "POST: 405" [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "${auth[@]}" "$S/state/per_minute/hall-t1")" = 405 ]
check "the reason says what to fix" grep -q "ISO-8601" <(curl -s "${auth[@]}" "$S/state/per_minute/hall-t1/history?from=yesterday")
for i in a s r2; do eval "kill -TERM \$SPATE_PID_$i"; done
for i in a s r2; do eval "wait \$SPATE_PID_$i"; done
check "the token is in no log" bash -c "! grep -qs -- '$TOKEN' $TMP/*.log"
