#!/usr/bin/env bash
# run.sh - spate's benchmarks, all in one run on the embedded broker:
# raw librdkafka consume vs spate map->sink on the same 1,000,000 records, then
# window state with 1,000,000 live keys: memory and restore (restore_bench.sh); sql_sink into
# SQLite and PostgreSQL beside raw consume and a plain C loop (sql.sh).
set -u
cd "$(dirname "$0")/.."
: "${SPATE_BIN:?run through make bench}" "${SPATE_BENCH_BIN:?run through make bench}"
N=${BENCH_N:-1000000}
TMP=$(mktemp -d /tmp/spate-bench.XXXXXX)
PY=/usr/bin/python3
KT="$PY tests/tools/kafka_tool.py"
PORT=${BENCH_PORT:-19392}
trap 'kill $BROKER 2>/dev/null; rm -rf $TMP' EXIT

"$SPATE_BIN" broker --listen 127.0.0.1:$PORT --topology bench/map_sink.yaml --topology bench/hourly_region.yaml --topic bench.raw_produce:32 >"$TMP/boot" 2>"$TMP/broker.log" &
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
echo "== spate hourly mean by region (group_by -> repartition, RocksDB, changelog, exact mode)"
SPATE_STATE_DIR=$TMP/state /usr/bin/time -f "%U %S %M %e" -o "$TMP/time2" "$SPATE_BIN" run bench/hourly_region.yaml --until-idle 3s 2>"$TMP/hourly.log"
read -r u2 s2 rss2 wall2 <"$TMP/time2"
windows=$($KT count "$SPATE_BOOTSTRAP" bench.hourly)
echo "== Python confluent-kafka peer (json.loads, dict of sums and counts, commits every second)"
py=$($PY bench/python_peer.py "$SPATE_BOOTSTRAP" bench.sensors "$N") || py="python: failed"
echo "$py"
py_rate=$(echo "$py" | sed -E 's/.*= ([0-9]+) records.*/\1/')
$PY - "$raw_rate" "$py_rate" "$N" "$u2" "$s2" "$rss2" "$TMP/hourly.log" "$windows" <<'PY'
import re, sys, datetime
raw, py, n, u, s, rss, log, windows = float(sys.argv[1]), float(sys.argv[2]) if sys.argv[2].replace(".", "").isdigit() else 0, int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), sys.argv[7], sys.argv[8]
# The engine's line counts input and repartition records from first to last record.
m = re.search(r"throughput: (\d+) records in ([0-9.]+) s", open(log).read())
wall = float(m.group(2))
rate = n / wall
dlq = int(re.findall(r"dead-lettered (\d+)", open(log).read())[-1])
print("spate hourly: %d input records in %.2f s = %.0f records/s; %.0f events per CPU-second (user %.2f + sys %.2f); peak RSS %d MB; %s window updates written, %d records dead-lettered"
      % (n, wall, rate, n / (u + s), u, s, rss // 1024, windows, dlq))
print("RESULT hourly-by-region: raw %.0f rec/s, spate %.0f rec/s, ratio %.2f (goal >= 0.5); python %.0f rec/s, spate/python %.2f (goal >= 3)"
      % (raw, rate, rate / raw, py, rate / py if py else 0))
PY
"$SPATE_BENCH_BIN/raw_produce" "$SPATE_BOOTSTRAP" bench.raw_produce "$N"
bench/poll.sh
bench/sql.sh
for b in "$SPATE_BENCH_BIN"/*_bench; do [ -x "$b" ] && { echo "== $(basename "$b")"; "$b"; }; done
bench/restore_bench.sh
bench/metrics.sh
exit 0
