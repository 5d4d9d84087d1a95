#!/usr/bin/env bash
# run.sh - spate's benchmarks, all in one run on the embedded broker: on the same
# 1,000,000 records, spate map->sink beside a C consume->produce baseline (raw_pipe.c) and a
# Python peer; the region job on sensor-shaped records beside raw consume and a Python peer,
# and two instances of it against one; the hourly job on pre-computed regions; then window
# state with 1,000,000 live keys: memory and restore (restore_bench.sh), and 10,000,000 under
# state_memory_mb: 256 (winstore.sh); a failover of 1,000,000 dedupe keys with and without a
# standby replica (standby.sh); sql_sink into SQLite and
# PostgreSQL beside raw consume and a plain C loop (sql.sh); archive_sink beside raw consume and
# map->sink (archive.sh); a join against a 100,000-row global table topic beside map->sink
# (join.sh); the in-process *_bench programs (join_bench: the same join per record without
# Kafka); /metrics' cost (metrics.sh); interactive queries' latency under 100 concurrent clients,
# one and two instances, beside /metrics on the same server (iq.sh).
# env: BENCH_N (records, 1000000), BENCH_ROUNDS (rounds of map->sink and of the region job, 5: their ratios vary round to round with the baseline, so the median of 5), BENCH_PORT (bench/lib.sh),
#      BENCH_CORE=1 (stop after the scale-out: only the map->sink and region-job sections)
. "$(dirname "$0")/lib.sh"
N=${BENCH_N:-1000000}

ROUNDS=${BENCH_ROUNDS:-5}
# Each run is a new consumer group: a copy of the topology under its own application name
# (the embedded broker creates its topics, repartition and changelog ones included, at start).
app_copy() {  # app_copy FILE APP -> path of the copy
        sed -e "s/^application: .*/application: $2/" "$1" >"$TMP/$2.yaml"
        echo "$TMP/$2.yaml"
}
tops=()
for i in $(seq "$ROUNDS"); do
        tops+=(--topology "$(app_copy bench/map_sink.yaml bench-map-$i)" --topology "$(app_copy bench/sensor_region.yaml bench-region-$i)")
        # Each round's own output topic: the embedded broker drops a partition's oldest
        # segments past ~100,000 messages, so one topic for every round undercounts.
        sed -i "s/topic: bench.sensors_f\$/topic: bench.sensors_f.$i/" "$TMP/bench-map-$i.yaml"
done
tops+=(--topology "$(app_copy bench/sensor_region.yaml bench-region-2x)")
start_broker --topology bench/hourly_region.yaml --topology bench/sensor_region.yaml "${tops[@]}" \
        --topic bench.raw_produce:32 --topic bench.pipe:32 --topic bench.pipe_py:32 || exit 1
rate() { sed -nE 's/.*= ([0-9]+) records\/s.*/\1/p' | head -1; }

echo "== generating and producing $N sensor records twice (32 partitions, lz4): the legacy shape with a region field, and the issue-20 shape {id, timestamp, lat, lon, temperature, country}"
$PY bench/gen_sensors.py "$N" "$TMP/sensors.tsv"
$KT produce "$SPATE_BOOTSTRAP" bench.sensors "$TMP/sensors.tsv" || exit 1
$PY bench/gen_sensors.py "$N" "$TMP/sensors2.tsv" --shape sensor
$KT produce "$SPATE_BOOTSTRAP" bench.sensors2 "$TMP/sensors2.tsv" || exit 1

echo "== raw librdkafka consume"
raw=$("$SPATE_BENCH_BIN/raw_consume" "$SPATE_BOOTSTRAP" bench.sensors "$N") || { echo "$raw"; exit 1; }
echo "$raw"
raw_rate=$(echo "$raw" | rate)

echo "== map -> sink beside the C consume -> produce baseline, $ROUNDS alternating rounds (the machine may be shared: each ratio is of two runs back to back)"
ratios="" cpu_ratios="" map_rates="" map_rss=0
for i in $(seq "$ROUNDS"); do
        timed "$SPATE_BENCH_BIN/raw_pipe" "$SPATE_BOOTSTRAP" bench.sensors bench.pipe "$N" >"$TMP/pipe.out" ||
                { cat "$TMP/pipe.out"; exit 1; }
        pipe=$(cat "$TMP/pipe.out") pu=$T_USER ps=$T_SYS prss=$T_RSS
        timed "$SPATE_BIN" run "$TMP/bench-map-$i.yaml" --until-idle 2s 2>"$TMP/spate.log"
        u=$T_USER s=$T_SYS rss=$T_RSS
        sp_rate=$(grep throughput "$TMP/spate.log" | rate)
        pipe_rate=$(echo "$pipe" | rate)
        echo "round $i: $pipe; user ${pu}s sys ${ps}s, peak RSS $((prss / 1024)) MB"
        echo "round $i: spate map->sink $sp_rate records/s; user ${u}s sys ${s}s, peak RSS $((rss / 1024)) MB; ratio $($PY -c "print('%.2f' % ($sp_rate / $pipe_rate))"), CPU ratio $($PY -c "print('%.2f' % (($pu + $ps) / ($u + $s)))")"
        ratios="$ratios $($PY -c "print($sp_rate / $pipe_rate)")"
        cpu_ratios="$cpu_ratios $($PY -c "print(($pu + $ps) / ($u + $s))")"
        map_rates="$map_rates $sp_rate"
        [ "$rss" -gt "$map_rss" ] && map_rss=$rss
done
out=0
for i in $(seq "$ROUNDS"); do out=$((out + $($KT count "$SPATE_BOOTSTRAP" "bench.sensors_f.$i"))); done
echo "spate wrote $out records in $ROUNDS rounds (expected $((ROUNDS * N)))"
timed $PY bench/python_peer.py --map "$SPATE_BOOTSTRAP" bench.sensors bench.pipe_py "$N" >"$TMP/py.out" &&
        py=$(cat "$TMP/py.out") || py="python: failed"
echo "$py, peak RSS $((T_RSS / 1024)) MB"
$PY - "$ratios" "$cpu_ratios" "$map_rates" "$(echo "$py" | rate)" "$raw_rate" "$map_rss" "$T_RSS" <<'PY'
import statistics, sys
ratios = [float(x) for x in sys.argv[1].split()]
cpu = [float(x) for x in sys.argv[2].split()]
sp = statistics.median(float(x) for x in sys.argv[3].split())
py, raw, rss, py_rss = (float(x or 0) for x in sys.argv[4:])
print("RESULT map->sink: spate / C consume->produce %.2f (median of %s; goal >= 0.85), in records per CPU-second %.2f (median of %s); spate (median) / Python %.2f; spate / raw consume %.2f; peak RSS %d MB (highest round), %.2f x Python's %d MB (goal <= 1.5)"
      % (statistics.median(ratios), " ".join("%.2f" % r for r in ratios), statistics.median(cpu), " ".join("%.2f" % r for r in cpu),
         sp / py if py else 0, sp / raw, rss // 1024, rss / py_rss if py_rss else 0, py_rss // 1024))
PY

echo "== region job on sensor-shaped records (bench/sensor_region.yaml: parse_time, filter France, geo_region bbox, hourly mean + count, repartition, RocksDB, changelog) beside raw consume, $ROUNDS alternating rounds"
reg_ratios="" reg_rates="" rss3=0
for i in $(seq "$ROUNDS"); do
        raw2=$("$SPATE_BENCH_BIN/raw_consume" "$SPATE_BOOTSTRAP" bench.sensors2 "$N") || { echo "$raw2"; exit 1; }
        SPATE_STATE_DIR=$TMP/state_region_$i timed "$SPATE_BIN" run "$TMP/bench-region-$i.yaml" --until-idle 3s 2>"$TMP/region.log"
        u3=$T_USER s3=$T_SYS r3=$T_RSS
        reg_rate=$(grep throughput "$TMP/region.log" | rate)
        echo "round $i: $raw2"
        echo "round $i: spate region: $(grep throughput "$TMP/region.log" | sed 's/.*throughput: //'), user ${u3}s sys ${s3}s, peak RSS $((r3 / 1024)) MB, $(grep -o '[0-9]* dead letters' "$TMP/region.log" | tail -1); ratio $($PY -c "print('%.2f' % ($reg_rate / $(echo "$raw2" | rate)))")"
        reg_ratios="$reg_ratios $($PY -c "print($reg_rate / $(echo "$raw2" | rate))")"
        reg_rates="$reg_rates $reg_rate"
        [ "$r3" -gt "$rss3" ] && rss3=$r3
done
timed $PY bench/python_peer.py --region "$SPATE_BOOTSTRAP" bench.sensors2 "$N" topology/regions/france_regions.geojson \
        >"$TMP/py2.out" && py2=$(cat "$TMP/py2.out") || py2="python: failed"
py2_rss=$T_RSS
echo "$py2, peak RSS $((py2_rss / 1024)) MB"
windows=$($PY tests/tools/kafka_tool.py consume "$SPATE_BOOTSTRAP" bench.region_hourly --idle 2 | $PY -c '
import json, sys
last = {}
for line in sys.stdin:
    m = json.loads(line)
    last[m["key"]] = json.loads(m["value"])
print(len(last), sum(v["readings"] for v in last.values()))')
py_windows=$(echo "$py2" | sed -nE 's/.*\(([0-9]+) region-hours, ([0-9]+) readings kept\).*/\1 \2/p')
[ "$windows" = "$py_windows" ] && same="equal to the Python peer's" || same="DIFFERENT from the Python peer's ($py_windows)"
echo "spate region: $windows windows and readings in their last updates, $same"
$PY - "$reg_ratios" "$reg_rates" "$(echo "$py2" | rate)" "$rss3" "$py2_rss" <<'PY'
import statistics, sys
ratios = [float(x) for x in sys.argv[1].split()]
sp = statistics.median(float(x) for x in sys.argv[2].split())
py, rss, py_rss = (float(x or 0) for x in sys.argv[3:])
print("RESULT region job: spate / raw consume %.2f (median of %s; goal >= 0.6); spate %.0f rec/s (median), python %.0f rec/s, spate/python %.2f (goal >= 4); peak RSS %d MB (highest round), %.2f x Python's %d MB (goal <= 1.5)"
      % (statistics.median(ratios), " ".join("%.2f" % r for r in ratios), sp, py, sp / py if py else 0, rss // 1024, rss / py_rss if py_rss else 0, py_rss // 1024))
PY
reg_rate=$($PY -c "import statistics; print(statistics.median([$(echo $reg_rates | tr ' ' ',')]))")

echo "== scaling out: two instances of the region job on the same 32 partitions (one group), started together"
for k in 1 2; do
        SPATE_STATE_DIR=$TMP/state_2x_$k "$SPATE_BIN" run "$TMP/bench-region-2x.yaml" --until-idle 3s 2>"$TMP/2x_$k.log" &
        pids="${pids:-} $!"
done
wait $pids
$PY - "$reg_rate" "$TMP/2x_1.log" "$TMP/2x_2.log" <<'PY'
import re, sys
one = float(sys.argv[1] or 0)
n, longest = 0, 0.0
for log in sys.argv[2:]:
    m = re.search(r"throughput: (\d+) records in ([0-9.]+) s", open(log).read())
    k, t = (int(m.group(1)), float(m.group(2))) if m else (0, 0.0)
    print("instance %s: %d records in %.2f s" % (log[-8:-4], k, t))
    n, longest = n + k, max(longest, t)
both = n / longest if longest else 0
print("RESULT scale-out: two instances %.0f records/s combined (records of both / the longer first-to-last span), one instance %.0f (median): %.2fx (on 2 cores shared by both instances and the broker this measures coordination - two group members, two producers, a rebalance as the second joins - more than a speed-up: the same 2 cores do the work)" % (both, one, both / one if one else 0))
PY

[ -n "${BENCH_CORE:-}" ] && exit 0

echo "== hourly mean by region on the legacy records (bench/hourly_region.yaml: a pre-computed region field)"
SPATE_STATE_DIR=$TMP/state timed "$SPATE_BIN" run bench/hourly_region.yaml --until-idle 3s 2>"$TMP/hourly.log"
u2=$T_USER s2=$T_SYS rss2=$T_RSS
windows=$($KT count "$SPATE_BOOTSTRAP" bench.hourly)
echo "== Python confluent-kafka peer (json.loads, dict of sums and counts, commits every second)"
py=$($PY bench/python_peer.py "$SPATE_BOOTSTRAP" bench.sensors "$N") || py="python: failed"
echo "$py"
py_rate=$(echo "$py" | rate)
$PY - "$raw_rate" "$py_rate" "$N" "$u2" "$s2" "$rss2" "$TMP/hourly.log" "$windows" <<'PY'
import re, sys, datetime
raw, py, n, u, s, rss, log, windows = float(sys.argv[1]), float(sys.argv[2]) if sys.argv[2].replace(".", "").isdigit() else 0, int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), sys.argv[7], sys.argv[8]
# The engine's line counts input and repartition records from first to last record.
m = re.search(r"throughput: (\d+) records in ([0-9.]+) s", open(log).read())
wall = float(m.group(2))
rate = n / wall
dlq = int(re.findall(r"(\d+) dead letters", open(log).read())[-1])
print("spate hourly: %d input records in %.2f s = %.0f records/s; %.0f events per CPU-second (user %.2f + sys %.2f); peak RSS %d MB; %s window updates written, %d records dead-lettered"
      % (n, wall, rate, n / (u + s), u, s, rss // 1024, windows, dlq))
print("RESULT hourly-by-region: raw %.0f rec/s, spate %.0f rec/s, ratio %.2f (goal >= 0.5); python %.0f rec/s, spate/python %.2f (goal >= 3)"
      % (raw, rate, rate / raw, py, rate / py if py else 0))
PY
"$SPATE_BENCH_BIN/raw_produce" "$SPATE_BOOTSTRAP" bench.raw_produce "$N"
bench/poll.sh
bench/sql.sh
bench/archive.sh
bench/join.sh
for b in "$SPATE_BENCH_BIN"/*_bench; do [ -x "$b" ] && { echo "== $(basename "$b")"; "$b"; }; done
bench/restore_bench.sh
bench/standby.sh
bench/winstore.sh
bench/metrics.sh
bench/iq.sh
exit 0
