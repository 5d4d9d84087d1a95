#!/usr/bin/env bash
# 0451-mqtt-kill9.sh - kill -9 of spate while `spate iot-sim` publishes through Mosquitto: after the
# restart the broker redelivers what was not acknowledged (persistent session, PUBACK only after
# Kafka had the record), so every published message is in the raw topic at least once, a message
# written twice was in Kafka but not acknowledged at the crash, and removing duplicates by mqtt_id
# leaves exactly what was published (tests/ref/mqtt_ref.py crash).
. "$SPATE_ROOT/tests/lib.sh"
dir=$SPATE_ROOT/tests/integration
export APP=it-0451 RAW=it0451.raw OUT=it0451.out MQTT_PREFIX=it0451
start_broker --topology "$dir/0450-mqtt.yaml" || { nok "broker starts"; exit 1; }
start_mosquitto || { nok "mosquitto starts"; exit 1; }

start_spate a "$dir/0450-mqtt.yaml"
check "mqtt_source connects" wait_for 20 grep -qs "mqtt_source: connected to .* as spate-it-0451 (new session)" "$TMP/spate-a.log"
check "spate is assigned the raw topic" wait_for 20 grep -qs "assigned 8 partitions" "$TMP/spate-a.log"

# ~2,000 messages at 250/s (8 s); every 100th payload broken.
bg "$SPATE_BIN" iot-sim --sensors "$SPATE_ROOT/topology/iot_sensors.json" --prefix it0451 --rounds 300 \
        --rate 250 --seed 11 --malformed 100 --log "$TMP/sim.jsonl" 2>"$TMP/sim.err"
sim=$!
check "records reach Kafka while the simulator publishes" wait_count 20 "$RAW" 400
kill_spate a
# Where each partition of the raw topic ended at the crash.
$KT consume "$BOOT" "$RAW" --idle 1 >"$TMP/raw-at-crash.jsonl"
$PY -c 'import json,sys
cut = {}
for l in open(sys.argv[1]):
    r = json.loads(l); cut[r["partition"]] = max(cut.get(r["partition"], 0), r["offset"] + 1)
json.dump(cut, open(sys.argv[2], "w"))' "$TMP/raw-at-crash.jsonl" "$TMP/cut.json"
ok "spate killed with $(wc -l <"$TMP/raw-at-crash.jsonl") records in the raw topic"

start_spate b "$dir/0450-mqtt.yaml"
check "the restarted spate resumes its MQTT session" wait_for 20 grep -qs "as spate-it-0451 (session resumed)" "$TMP/spate-b.log"
wait "$sim"
check "the simulator had every message acknowledged by the broker ($(cat "$TMP/sim.err"))" grep -q "acknowledged; " "$TMP/sim.err"
n=$(wc -l <"$TMP/sim.jsonl")
bad=$(grep -c '"fault":"malformed"' "$TMP/sim.jsonl")
check "the raw topic gets at least the $((n - bad)) well-formed messages" wait_count 30 "$RAW" $((n - bad))
wait_for 10 grep -q "awaiting Kafka" "$TMP/spate-b.log"
kill -TERM "$SPATE_PID_b"; wait "$SPATE_PID_b" 2>/dev/null
check "the second run redelivered messages and acknowledged them all ($(grep -o '[0-9]* messages ([^)]*), [0-9]* acknowledged, [0-9]* awaiting Kafka' "$TMP/spate-b.log" | tail -1))" \
        grep -qE "mqtt_source: [0-9]+ messages \([0-9]+ dead letters, [1-9][0-9]* redelivered\), [0-9]+ acknowledged, 0 awaiting Kafka" "$TMP/spate-b.log"
$KT consume "$BOOT" "$RAW" --idle 2 >"$TMP/raw.jsonl"
$KT consume "$BOOT" "$APP-dlq" --idle 2 >"$TMP/dlq.jsonl"
tap() { while read -r line; do case $line in ok*) ok "${line#ok }";; "#"*) echo "$line";; *) nok "${line#not ok }";; esac; done < <("$@"); }
tap $PY "$SPATE_ROOT/tests/ref/mqtt_ref.py" crash "$TMP/sim.jsonl" "$TMP/raw.jsonl" "$TMP/dlq.jsonl" "$TMP/cut.json"
