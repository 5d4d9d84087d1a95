#!/usr/bin/env bash
# 0450-mqtt.sh - `spate iot-sim` -> a real Mosquitto (with a password) -> mqtt_source -> Kafka.
# Every message the simulator published is in the raw topic once, built as documented and keyed
# by sensor, in order per sensor; malformed payloads are dead letters with the MQTT topic as
# origin; the records read back from the raw topic reach the output through a map; the password
# is in no log; a wrong password is refused with a hint and retried with backoff.
. "$SPATE_ROOT/tests/lib.sh"
dir=$SPATE_ROOT/tests/integration
start_broker --topology "$dir/0450-mqtt.yaml" || { nok "broker starts"; exit 1; }
export MQTT_USERNAME=spate-it MQTT_PASSWORD=it0450-Secret-Pw-93kd
start_mosquitto "$MQTT_USERNAME" "$MQTT_PASSWORD" || { nok "mosquitto starts"; exit 1; }
ok "mosquitto on $MQTT_URL"

start_spate a "$dir/0450-mqtt.yaml"
check "mqtt_source connects and subscribes" wait_for 20 grep -qs "mqtt_source: connected to 127.0.0.1:$MQTT_PORT as spate-it-0450 (new session)" "$TMP/spate-a.log"
check "spate is assigned the raw topic" wait_for 20 grep -qs "assigned 8 partitions" "$TMP/spate-a.log"

# 8 sensors (1 silent), 40 rounds: ~300 messages at 400/s, every 50th payload broken.
"$SPATE_BIN" iot-sim --sensors "$SPATE_ROOT/topology/iot_sensors.json" --prefix it0450 --rounds 40 \
        --rate 400 --seed 7 --dropout 0.05 --spike 0.05 --malformed 50 --log "$TMP/sim.jsonl" 2>"$TMP/sim.err"
check "the simulator published and had every message acknowledged ($(cat "$TMP/sim.err"))" \
        grep -q "acknowledged; " "$TMP/sim.err"
n=$(wc -l <"$TMP/sim.jsonl")
bad=$(grep -c '"fault":"malformed"' "$TMP/sim.jsonl")
check "the raw topic gets $((n - bad)) records" wait_count 20 it0450.raw $((n - bad))
check "the output gets them through the map" wait_count 20 it0450.out $((n - bad))
kill -TERM "$SPATE_PID_a"; wait "$SPATE_PID_a" 2>/dev/null
check "a stopped spate acknowledged every message ($(grep -o '[0-9]* messages ([^)]*), [0-9]* acknowledged' "$TMP/spate-a.log" | tail -1))" \
        grep -q "mqtt_source: $n messages ($bad dead letters, 0 redelivered), $n acknowledged, 0 awaiting Kafka" "$TMP/spate-a.log"

$KT consume "$BOOT" it0450.raw --idle 2 >"$TMP/raw.jsonl"
$KT consume "$BOOT" it0450.out --idle 2 >"$TMP/out.jsonl"
$KT consume "$BOOT" it-0450-dlq --idle 2 >"$TMP/dlq.jsonl"
tap() { while read -r line; do case $line in ok*) ok "${line#ok }";; "#"*) echo "$line";; *) nok "${line#not ok }";; esac; done < <("$@"); }
tap $PY "$SPATE_ROOT/tests/ref/mqtt_ref.py" exact "$TMP/sim.jsonl" "$TMP/raw.jsonl" "$TMP/dlq.jsonl"
check "the simulator's faults are there: a silent sensor, a stuck one, spikes, dropouts" $PY - "$TMP/sim.jsonl" "$SPATE_ROOT/topology/iot_sensors.json" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
ids = [s["id"] for s in json.load(open(sys.argv[2]))["sensors"]]
per = {i: [m for m in log if m["sensor"] == i] for i in ids}
stuck = {json.loads(m["payload"])["value"] for m in per[ids[-2]] if m.get("fault") != "malformed"}
spikes = [m for m in log if m.get("fault") == "spike"]
ok = not per[ids[-1]] and len(stuck) == 1 and spikes and len(log) < 7 * 40
sys.exit(0 if ok else 1)
PY
check "out records are the raw ones through the map" $PY - "$TMP/raw.jsonl" "$TMP/out.jsonl" <<'PY'
import json, sys
raw = sorted((v["sensor_id"], v["kind"], v["value"], v["mqtt_id"]) for v in (json.loads(json.loads(l)["value"]) for l in open(sys.argv[1])))
out = sorted((v["sensor"], v["kind"], v["value"], v["id"]) for v in (json.loads(json.loads(l)["value"]) for l in open(sys.argv[2])))
sys.exit(0 if raw == out and raw else 1)
PY

# A wrong password: refused with the reason and a hint, retried with growing delays; never logged.
MQTT_PASSWORD=wrong-Pw-1234 start_spate b "$dir/0450-mqtt.yaml"
refused='connection refused: (Bad User Name or Password \(0x86\)|Not authorized \(0x87\)) - check username/password'
wait_for 20 grep -qE "$refused" "$TMP/spate-b.log"
check "a refused login says why and what to check ($(grep -m1 -o 'mqtt_source: .*' "$TMP/spate-b.log"))" grep -qE "$refused" "$TMP/spate-b.log"
check "and is retried with backoff" wait_for 10 bash -c "[ \$(grep -c 'reconnecting in' '$TMP/spate-b.log') -ge 3 ]"
kill -TERM "$SPATE_PID_b"; wait "$SPATE_PID_b" 2>/dev/null
check "no log holds a password" bash -c "! grep -l -e '$MQTT_PASSWORD' -e 'wrong-Pw-1234' '$TMP'/spate-*.log '$TMP/sim.err'"
