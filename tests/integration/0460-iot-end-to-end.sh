#!/usr/bin/env bash
# 0460-iot-end-to-end.sh - the shipped IoT topologies as a user runs them: Mosquitto and two
# instances each of topology/iot_sensors.yaml (MQTT -> raw topic), iot_resample.yaml (raw topic ->
# dedupe -> limits join -> 1-minute resample) and iot_archive.yaml (raw topic -> Avro archive),
# one of each killed with SIGKILL while `spate iot-sim` publishes, then restarted. The simulator
# publishes 4 minutes of readings (store-t3 silent), pauses 2 minutes of event time (every sensor
# gaps, the second gap stale with fill_max 2m), then 3 more minutes with hall-t1 silent for good
# and store-t3 reporting. tests/ref/iot_ref.py, from the simulator's logs alone: every 1-minute
# row (values, nulls, flags) equals the reference; the archive holds every raw record exactly once
# and, merged by mqtt_id, exactly the published messages.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref
topo=$SPATE_ROOT/topology
T0=1767225600000                      # 2026-01-01T00:00:00Z
export IOT_APP=it-0460 IOT_RESAMPLE_APP=it-0460-resample IOT_ARCHIVE_APP=it-0460-archive IOT_RAW_TOPIC=it0460.raw \
        IOT_MINUTE_TOPIC=it0460.minutely MQTT_PREFIX=it0460 IOT_FILL_MAX=2m IOT_FILL_MAX_MS=120000 \
        ARCHIVE_DIR=$TMP/archive ARCHIVE_ROLL=2s
start_mosquitto || { nok "mosquitto starts"; exit 1; }
start_broker --topology "$topo/iot_sensors.yaml" --topology "$topo/iot_resample.yaml" \
        --topology "$topo/iot_archive.yaml" --topic it-0460-a-dlq:1 --topic it-0460-b-dlq:1 || { nok "broker starts"; exit 1; }

sensors() { SPATE_INSTANCE=$1 start_spate "$1" "$topo/iot_sensors.yaml"; }
resample() { STATE_DIR=$TMP/state-$1 start_spate "$1" "$topo/iot_resample.yaml"; }
archive() { STATE_DIR=$TMP/state-$1 start_spate "$1" "$topo/iot_archive.yaml"; }
sim() {  # log, start, rounds, silent sensor
        "$SPATE_BIN" iot-sim --url "$MQTT_URL" --sensors "$topo/iot_sensors.json" --prefix it0460 \
                --start "$2" --rounds "$3" --silent "$4" --rate 400 --seed 46 --log "$TMP/$1" 2>>"$TMP/sim.err"
}
sensors a; sensors b; resample r; resample s; archive c; archive d
for i in a b; do
        check "instance $i's mqtt_source connects" wait_for 30 grep -qs "mqtt_source: connected to .* as spate-it-0460-$i-readings" "$TMP/spate-$i.log"
done
all_assigned() { for i in r s c d; do grep -qs "assigned" "$TMP/spate-$i.log" || return 1; done; }
check "the resample and archive instances are assigned partitions" wait_for 30 all_assigned

# 4 minutes of readings (7 sensors, store-t3 silent); kill -9 one instance of each while they flow.
bg sim sim1.jsonl $T0 240 store-t3
sim1=$!
check "readings reach the raw topic" wait_count 20 it0460.raw 1000
kill_spate a; kill_spate r; kill_spate c
ok "killed an MQTT, a resample and an archive instance with SIGKILL at $($KT count "$BOOT" it0460.raw) raw records"
sensors a; resample r; archive c
wait "$sim1"
check "instance a resumes its MQTT session" wait_for 30 grep -qs "as spate-it-0460-a-readings (session resumed)" "$TMP/spate-a.log"
# 2 minutes later, 3 more minutes with hall-t1 silent.
sim sim2.jsonl $((T0 + 360000)) 180 hall-t1
check "the simulator had every message acknowledged ($(tr '\n' ' ' <"$TMP/sim.err"))" [ "$(grep -c "acknowledged; " "$TMP/sim.err")" -eq 2 ]
n=$(cat "$TMP/sim1.jsonl" "$TMP/sim2.jsonl" | wc -l)
check "both bridges wrote the $n messages to the raw topic" wait_count 30 it0460.raw $((2 * n))

logs=$TMP/sim1.jsonl,$TMP/sim2.jsonl
consume() {
        $KT consume "$BOOT" it0460.raw --idle 0.5 >"$TMP/raw.jsonl"
        $KT consume "$BOOT" it0460.minutely --idle 0.5 >"$TMP/minutely.jsonl"
}
exact() { consume; $PY "$REF/iot_ref.py" compare "$topo/iot_sensors.json" "$logs" "$TMP/raw.jsonl" "$TMP/minutely.jsonl" -q >/dev/null; }
check "every 1-minute row exact within 30 s" wait_for 30 exact
consume
tap() { while read -r s rest; do case $s in ok) ok "${rest#- }";; "#"*) echo "$s $rest";; *) nok "${rest#*- }";; esac; done < <("$@"); }
tap $PY "$REF/iot_ref.py" compare "$topo/iot_sensors.json" "$logs" "$TMP/raw.jsonl" "$TMP/minutely.jsonl"

# Files roll every 2 s (ARCHIVE_ROLL): the archive has caught up once every partition's newest
# finalized file ends at the raw topic's last offset. Stopping before that would only test
# what a rebalance in progress at SIGTERM leaves unwritten (the records are replayed later).
archived() {
        $PY - "$BOOT" it0460.raw "$TMP/archive" <<'PY'
import os, re, sys
from confluent_kafka import Consumer, TopicPartition
boot, topic, root = sys.argv[1:4]
c = Consumer({"bootstrap.servers": boot, "group.id": "it0460-archived"})
parts = c.list_topics(topic, timeout=10).topics[topic].partitions
last = {}
for _, _, files in os.walk(root):
    for f in files:
        m = re.fullmatch(re.escape(topic) + r"-p(\d+)-(\d+)-(\d+)\.avro", f)
        if m:
            last[int(m[1])] = max(last.get(int(m[1]), -1), int(m[3]))
done = all(last.get(p, -1) + 1 >= c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts)
c.close()
sys.exit(0 if done else 1)
PY
}
check "the archive caught up with the raw topic" wait_for 60 archived
for i in a b r s c d; do eval "kill -TERM \$SPATE_PID_$i"; done
for i in a b r s c d; do eval "wait \$SPATE_PID_$i"; done
tap $PY "$REF/iot_ref.py" archive "$BOOT" it0460.raw it-0460-archive-dlq "$TMP/archive" "$logs"
dl=0
for app in it-0460-a it-0460-b it-0460-resample it-0460-archive; do dl=$((dl + $($KT count "$BOOT" $app-dlq 2>/dev/null || echo 0))); done
check "nothing dead-lettered ($dl)" [ "$dl" -eq 0 ]
