#!/usr/bin/env bash
# mqtt.sh - MQTT -> Kafka messages/s: mqtt_source (PUBACK after Kafka's acknowledgement) beside
# the baseline `mosquitto_sub | raw_lines` (mosquitto_sub acknowledges on receipt: at-most-once).
# Both drain the same N QoS 1 messages (spate iot-sim, 8 sensors) queued for their persistent
# session on a local Mosquitto while they were away; the rate is N over the span of the Kafka
# timestamps of the records written (first to last), so start-up and group joins do not count.
#   MQTT_BENCH_N  messages (default 50000); BENCH_PORT (bench/lib.sh)
. "$(dirname "$0")/lib.sh"
N=${MQTT_BENCH_N:-50000}
mport=$((PORT + 3))
cat >"$TMP/mosquitto.conf" <<CONF
listener $mport 127.0.0.1
user root
allow_anonymous true
max_queued_messages 0
max_inflight_messages 0
CONF
bg /usr/sbin/mosquitto -c "$TMP/mosquitto.conf" 2>"$TMP/mosquitto.log"
export MQTT_URL=mqtt://127.0.0.1:$mport
start_broker --topology bench/mqtt.yaml || exit 1

publish() {  # N messages to bench/<sensor>/<type>, as fast as the broker takes them
        "$SPATE_BIN" iot-sim --prefix bench --rounds $((N / 8)) --rate 0 --dropout 0 --spike 0 \
                --stuck none --silent none --seed 3 2>"$TMP/sim.err" || { cat "$TMP/sim.err"; exit 1; }
}
# rate TOPIC: records / (last - first Kafka timestamp)
rate() {
        $PY - "$SPATE_BOOTSTRAP" "$1" <<'PY'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "bench-rate", "enable.auto.commit": False})
md = c.list_topics(sys.argv[2], timeout=10)
c.assign([TopicPartition(sys.argv[2], p, 0) for p in md.topics[sys.argv[2]].partitions])
n, lo, hi, idle = 0, None, None, 0
while idle < 2:
    ms = c.consume(10000, 1.0)
    idle = idle + 1 if not ms else 0
    for m in ms:
        if m.error():
            continue
        t = m.timestamp()[1]
        n += 1
        lo = t if lo is None else min(lo, t)
        hi = t if hi is None else max(hi, t)
c.close()
print("%d %.0f" % (n, n * 1000.0 / (hi - lo) if n > 1 and hi > lo else 0))
PY
}

echo "== MQTT -> Kafka: $N QoS 1 messages queued on Mosquitto, then drained"
# spate: subscribe once (the session), publish while away, then drain.
timeout -s TERM 8 "$SPATE_BIN" run bench/mqtt.yaml 2>"$TMP/spate0.log"
publish
"$SPATE_BIN" run bench/mqtt.yaml 2>"$TMP/spate.log" &
sp=$!
for _ in $(seq 600); do [ "$($KT count "$SPATE_BOOTSTRAP" bench.mqtt.raw 2>/dev/null || echo 0)" -ge "$N" ] && break; sleep 0.5; done
cpu=$(awk '{ printf "%.1f", ($14 + $15) / 100 }' /proc/$sp/stat) rss=$(ps -o rss= -p $sp)
kill -TERM $sp; wait $sp
read -r n_s r_s < <(rate bench.mqtt.raw)
grep "mqtt_source: .* messages" "$TMP/spate.log" | tail -1 | sed 's/.*mqtt_source:/spate: mqtt_source:/'

# baseline: the same with mosquitto_sub's persistent session.
mosquitto_sub -p "$mport" -q 1 -c -i bench-base -t 'bench/#' -E
publish
t0=$(date +%s.%N)
mosquitto_sub -p "$mport" -q 1 -c -i bench-base -t 'bench/#' -C "$N" -F '%t	%p' |
        "$SPATE_BENCH_BIN/raw_lines" "$SPATE_BOOTSTRAP" bench.mqtt.base >"$TMP/base.out"
read -r n_b r_b < <(rate bench.mqtt.base)
cat "$TMP/base.out"
echo "RESULT mqtt_source: $n_s records, $r_s msg/s (spate's CPU over its whole run: ${cpu}s, RSS $((rss / 1024)) MB)"
echo "RESULT mosquitto_sub | raw_lines: $n_b records, $r_b msg/s"
$PY -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print("RESULT ratio spate / baseline: %.2f" % (a / b if b else 0))' "$r_s" "$r_b"
