#!/usr/bin/env bash
# run.sh - spate's benchmarks, all in one run on the embedded broker:
# raw librdkafka consume vs spate map->sink on the same 1,000,000 records.
set -u
cd "$(dirname "$0")/.."
: "${SPATE_BIN:?run through make bench}" "${SPATE_BENCH_BIN:?run through make bench}"
N=${BENCH_N:-1000000}
TMP=$(mktemp -d /tmp/spate-bench.XXXXXX)
PY=/usr/bin/python3
KT="$PY tests/tools/kafka_tool.py"
PORT=${BENCH_PORT:-19392}
trap 'kill $BROKER 2>/dev/null; rm -rf $TMP' EXIT

"$SPATE_BIN" broker --listen 127.0.0.1:$PORT --topology bench/map_sink.yaml --topic bench.raw_produce:32 >"$TMP/boot" 2>"$TMP/broker.log" &
BROKER=$!
for _ in $(seq 50); do grep -q 127 "$TMP/boot" 2>/dev/null && break; sleep 0.1; done
export SPATE_BOOTSTRAP=$(head -1 "$TMP/boot")

echo "== generating and producing $N sensor records (32 partitions, lz4)"
$PY bench/gen_sensors.py "$N" "$TMP/sensors.tsv"
$KT produce "$SPATE_BOOTSTRAP" bench.sensors "$TMP/sensors.tsv" || exit 1

echo "== raw librdkafka consume"
raw=$("$SPATE_BENCH_BIN/raw_consume" "$SPATE_BOOTSTRAP" bench.sensors "$N") || { echo "$raw"; exit 1; }
echo "$raw"
raw_rate=$(echo "$raw" | sed -E 's/.*= ([0-9]+) records.*/\1/')

echo "== spate map -> sink"
/usr/bin/time -f "%U %S %M" -o "$TMP/time" "$SPATE_BIN" run bench/map_sink.yaml --until-idle 2s 2>"$TMP/spate.log"
grep throughput "$TMP/spate.log" | sed 's/.*throughput/spate: throughput/'
sp_rate=$(grep throughput "$TMP/spate.log" | sed -E 's/.*= ([0-9]+) records.*/\1/')
read -r u s rss <"$TMP/time"
out=$($KT count "$SPATE_BOOTSTRAP" bench.sensors_f)
echo "spate: wrote $out records; user ${u}s sys ${s}s, peak RSS $((rss / 1024)) MB"
$PY - "$raw_rate" "$sp_rate" <<'PY'
import sys
raw, sp = float(sys.argv[1]), float(sys.argv[2] or 0)
print("RESULT map->sink: raw %.0f rec/s, spate %.0f rec/s, ratio %.2f (goal >= 0.7)" % (raw, sp, sp / raw))
PY
"$SPATE_BENCH_BIN/raw_produce" "$SPATE_BOOTSTRAP" bench.raw_produce "$N"
bench/poll.sh
for b in "$SPATE_BENCH_BIN"/*_bench; do [ -x "$b" ] && { echo "== $(basename "$b")"; "$b"; }; done
exit 0
