#!/usr/bin/env bash
# join.sh - a left join against a 100,000-row global table topic beside map->sink on the
# embedded broker: the same N sensor records through bench/map_sink.yaml, through
# bench/join_sink.yaml (the same map, then the join) and through "wide", the same map computing
# two more fields of the joined fields' size instead of the join (so that the outputs weigh the
# same), alternating rounds. The join's cost per record is its run's seconds per record less
# wide's, in wall and CPU time; the table's load time runs from the start of the run to its
# "table stations: 100000 rows" line. (build/bench/join_bench measures the join in one process,
# without Kafka.)
# env: BENCH_JOIN_N (records, 1000000), BENCH_ROUNDS (2)
. "$(dirname "$0")/lib.sh"
N=${BENCH_JOIN_N:-1000000}
ROUNDS=${BENCH_ROUNDS:-2}
# Each run is a new consumer group: a copy of the topology under its own application name,
# given to the embedded broker so it creates their topics at start.
sed -n '1,/^  - name: station$/p' bench/join_sink.yaml | sed '$d' >"$TMP/wide_sink.yaml"
cat >>"$TMP/wide_sink.yaml" <<'YAML'
      station_name: concat('Station ', sensor)
      altitude: temp
  - name: out
    type: kafka_sink
    from: convert
    topic: bench.sensors_w
    partitions: 32
YAML
tops=()
for i in $(seq "$ROUNDS"); do
        for t in map wide join; do
                src=bench/${t}_sink.yaml
                [ $t = wide ] && src=$TMP/wide_sink.yaml
                sed -e "s/^application: .*/application: bench-$t-$i/" "$src" >"$TMP/$t-$i.yaml"
                tops+=(--topology "$TMP/$t-$i.yaml")
        done
done
start_broker "${tops[@]}" || exit 1
echo "== join: generating and producing $N sensor records (32 partitions) and a 100,000-row table topic"
$PY bench/gen_sensors.py "$N" "$TMP/sensors.tsv"
$KT produce "$BOOT" bench.sensors "$TMP/sensors.tsv" 2>/dev/null || exit 1
$PY -c 'import json
for i in range(100000):
    print("s%05d\t%s" % (i, json.dumps({"name": "Station %d" % i, "alt": i % 900, "lat": 42 + i % 900 / 100})))' \
        >"$TMP/stations.tsv"
$KT produce "$BOOT" bench.stations "$TMP/stations.tsv" 2>/dev/null || exit 1
rate() { sed -nE 's/.*= ([0-9]+) records\/s.*/\1/p' | head -1; }
map_rates="" wide_rates="" join_rates="" map_cpu="" wide_cpu="" join_cpu="" load=""
for i in $(seq "$ROUNDS"); do
        for t in map wide join; do
                timed "$SPATE_BIN" run "$TMP/$t-$i.yaml" --until-idle 2s 2>"$TMP/$t-$i.log"
                r=$(grep throughput "$TMP/$t-$i.log" | rate)
                [ -n "$r" ] || { echo "$t: no throughput line:"; tail -5 "$TMP/$t-$i.log"; exit 1; }
                cpu=$($PY -c "print('%.2f' % ($T_USER + $T_SYS))")
                echo "round $i: $t -> sink $r records/s, $cpu CPU-seconds"
                eval "${t}_rates=\"\$${t}_rates $r\" ${t}_cpu=\"\$${t}_cpu $cpu\""
        done
        load="$load $($PY - "$TMP/join-$i.log" <<'PY'
import re, sys
from datetime import datetime
t = lambda l: datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f")
lines = open(sys.argv[1]).read().splitlines()
start = t(lines[0])
done = [t(l) for l in lines if "table stations: 100000 rows" in l]
print(int((done[0] - start).total_seconds() * 1000) if done else -1)
PY
)"
done
$PY - "$map_rates" "$wide_rates" "$join_rates" "$wide_cpu" "$join_cpu" "$load" "$N" <<'PY'
import statistics, sys
m, w, j, wc, jc = ([float(x) for x in a.split()] for a in sys.argv[1:6])
load = [int(x) for x in sys.argv[6].split()]
n = int(sys.argv[7])
cost = statistics.median(1e9 / b - 1e9 / a for a, b in zip(w, j))
cpu = statistics.median((b - a) * 1e9 / n for a, b in zip(wc, jc))
med = statistics.median
print("RESULT join on Kafka (100k-row global table topic, 20,000 keys looked up, %d records, %d rounds): "
      "map->sink %.0f rec/s, the same map with 2 more fields %.0f rec/s, map->join->sink %.0f rec/s (%.2f of "
      "map->sink); the join costs %.0f ns/record of wall time and %.0f ns of CPU time beside the wide map "
      "(goal < 1000), the table's load included; table loaded in %s ms"
      % (n, len(m), med(m), med(w), med(j), med(j) / med(m), cost, cpu, "/".join(str(x) for x in load)))
PY
