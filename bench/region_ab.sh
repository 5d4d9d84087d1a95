#!/usr/bin/env bash
# region_ab.sh - only the issue-20 region job (bench/sensor_region.yaml) beside raw consume, or
# with BENCH_JOB=map only map->sink (bench/map_sink.yaml) beside the C consume->produce baseline
# (raw_pipe), in alternating rounds on one topic, for comparing spate binaries while optimising
# them: each round runs the baseline, then every binary given, each under its own consumer
# group, and prints its ratio to that round's baseline and the processing thread's CPU a record
# (the engine's throughput line), then the medians. Results are checked against the independent
# reference (bench/python_peer.py) only by bench/run.sh; here each run's dead letters are printed.
# usage: SPATE_BENCH_BIN=build/bench bench/region_ab.sh SPATE_BIN [SPATE_BIN...]
# env: BENCH_JOB (region or map), BENCH_N (records, 1000000), BENCH_ROUNDS (3), BENCH_PORT (19393), BENCH_BROKER (the spate
#      binary whose embedded broker serves all rounds; default the first), BENCH_PERF=1 (perf
#      record the last binary's last round into $BENCH_PERF_OUT, default perf.data, with
#      $BENCH_PERF_ARGS, default -g; e.g. "--call-graph dwarf -F 2000" for stacks through libc)
set -u
cd "$(dirname "$0")/.."
: "${SPATE_BENCH_BIN:?directory of raw_consume}"
[ $# -ge 1 ] || { echo "usage: $0 SPATE_BIN [SPATE_BIN...]" >&2; exit 2; }
N=${BENCH_N:-1000000} ROUNDS=${BENCH_ROUNDS:-3} PORT=${BENCH_PORT:-19393}
if [ "${BENCH_JOB:-region}" = map ]; then
        JOB=bench/map_sink.yaml TOPIC=bench.sensors SHAPE=legacy BASE=raw_pipe
else
        JOB=bench/sensor_region.yaml TOPIC=bench.sensors2 SHAPE=sensor BASE=raw_consume
fi
PY=/usr/bin/python3
KT="$PY tests/tools/kafka_tool.py"
TMP=$(mktemp -d /tmp/spate-region-ab.XXXXXX)
trap 'kill $BROKER 2>/dev/null; rm -rf $TMP' EXIT
tops=()
for i in $(seq "$ROUNDS"); do
        for b in $(seq $#); do
                sed -e "s/^application: .*/application: ab-$i-$b/" $JOB >"$TMP/ab-$i-$b.yaml"
                tops+=(--topology "$TMP/ab-$i-$b.yaml")
        done
done
"${BENCH_BROKER:-$1}" broker --listen 127.0.0.1:$PORT --topology $JOB "${tops[@]}" --topic bench.pipe:32 >"$TMP/boot" 2>"$TMP/broker.log" &
BROKER=$!
for _ in $(seq 300); do grep -q 127 "$TMP/boot" 2>/dev/null && break; sleep 0.1; done
export SPATE_BOOTSTRAP=$(head -1 "$TMP/boot")
$PY bench/gen_sensors.py "$N" "$TMP/in.tsv" --shape $SHAPE
$KT produce "$SPATE_BOOTSTRAP" $TOPIC "$TMP/in.tsv" || exit 1
rate() { sed -nE 's/.*= ([0-9]+) records\/s.*/\1/p' | head -1; }
uptime
for i in $(seq "$ROUNDS"); do
        base=("$SPATE_BENCH_BIN/$BASE" "$SPATE_BOOTSTRAP" $TOPIC)
        [ $BASE = raw_pipe ] && base+=(bench.pipe)
        raw=$(/usr/bin/time -f "%U %S %M" -o "$TMP/time" "${base[@]}" "$N") || { echo "$raw"; exit 1; }
        raw_rate=$(echo "$raw" | rate)
        read -r u s rss < <(tail -1 "$TMP/time")
        echo "round $i: $BASE $raw_rate records/s, user ${u}s sys ${s}s, peak RSS $((rss / 1024)) MB"
        b=0
        for bin in "$@"; do
                b=$((b + 1))
                perf=()
                [ -n "${BENCH_PERF:-}" ] && [ "$i" = "$ROUNDS" ] && [ "$b" = $# ] && perf=(perf record ${BENCH_PERF_ARGS:--g} -o "${BENCH_PERF_OUT:-perf.data}" --)
                SPATE_STATE_DIR=$TMP/state-$i-$b /usr/bin/time -f "%U %S %M" -o "$TMP/time" "${perf[@]}" "$bin" run "$TMP/ab-$i-$b.yaml" --until-idle 3s 2>"$TMP/run.log"
                read -r u s rss < <(tail -1 "$TMP/time")
                r=$(grep throughput "$TMP/run.log" | rate)
                ns=$(sed -nE 's/.*processing thread CPU .* \(([0-9]+) ns a record\).*/\1/p' "$TMP/run.log")
                echo "round $i: $bin $r records/s, ratio $($PY -c "print('%.2f' % ($r / $raw_rate))"), processing thread ${ns:-?} ns a record, user ${u}s sys ${s}s, peak RSS $((rss / 1024)) MB, $(grep -o '[0-9]* dead letters' "$TMP/run.log" | tail -1)"
                echo "$b $r $raw_rate ${ns:-0}" >>"$TMP/results"
        done
done
uptime
$PY - "$TMP/results" "$@" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for b, name in enumerate(sys.argv[2:], 1):
    mine = [r for r in rows if int(r[0]) == b]
    print("median of %d rounds: %s %.0f records/s, ratio to the baseline %.2f, processing thread %.0f ns a record"
          % (len(mine), name, statistics.median(float(r[1]) for r in mine),
             statistics.median(float(r[1]) / float(r[2]) for r in mine), statistics.median(float(r[3]) for r in mine)))
PY
