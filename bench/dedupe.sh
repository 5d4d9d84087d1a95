#!/usr/bin/env bash
# dedupe.sh - the engine-owned windowed store (state/wkv.h) under `dedupe` (bench/dedupe.yaml) on the
# embedded broker: N records (16 partitions, ids repeated within seconds,
# tests/ref/dedupe_ref.py) processed with the keys in memory (state_memory_mb: 256) and
# with state_memory_mb: 1 (evictions; RocksDB read through, and ranged by the expiry); then
# the state directory is deleted and a run restores every task from the changelog.
# Prints throughput (the engine's first-to-last-record line), peak RSS and the restore rate.
# DEDUPE_WITHIN (10s) sets dedupe's `within`: the input spans ~21 min of event time a partition,
# so 10m keeps ~15,000 keys a partition live (state far over state_memory_mb: 1) and expires
# them a 5-minute segment at a time. A last run sets `repartition: true` (every record written
# to and read back from the dedupe's own topic), beside a plain run of the same input just
# before it; both print their rate in input records a second, and each run how many records it
# passed (the same count in every run: each id passes once in this data).
#
# usage: SPATE_BIN=bin/spate bench/dedupe.sh      env: DEDUPE_N (1000000), DEDUPE_WITHIN (10s),
#        BENCH_PORT (bench/lib.sh)
. "$(dirname "$0")/lib.sh"
N=${DEDUPE_N:-1000000}

topics=()
for app in bench-dedupe-small bench-dedupe-again bench-dedupe-rp; do
        topics+=(--topic "$app-dd-seen-changelog:16" --topic "$app-dlq:1")
done
start_broker --topology bench/dedupe.yaml "${topics[@]}" --topic bench-dedupe-rp-dd-repartition:16 \
        --topic bench-dedupe-rp-dd-seen_by_key-changelog:16 || exit 1

$PY tests/ref/dedupe_ref.py gen "$N" 16 10000 "$TMP/in.tsv" "$TMP/expected.json"
$KT produce "$SPATE_BOOTSTRAP" bench.dedupe "$TMP/in.tsv" --partitioned || exit 1

run() {  # LABEL APP MB [until-idle [repartition]]: one run with its own state directory
        timed env DEDUPE_APP="$2" DEDUPE_MB="$3" DEDUPE_REPARTITION="${5:-false}" \
                SPATE_STATE_DIR="$TMP/state-$2" "$SPATE_BIN" run bench/dedupe.yaml --until-idle "${4:-3s}" \
                2>"$TMP/$1.log" || { tail "$TMP/$1.log"; exit 1; }
        echo "$1: $(grep -o 'throughput: .*' "$TMP/$1.log" | head -1 || echo 'no record processed');" \
                "peak RSS $((T_RSS / 1024)) MB"
        grep -h "dedupe 'dd':" "$TMP/$1.log" | sed 's/.*INFO  [a-z]*: /  /'
}
# input_rate LABEL: N over the first-to-last-record time of run LABEL (whose count, with
# repartition: true, holds the repartition topic's records too)
input_rate() {
        sed -nE 's/.*throughput: [0-9]+ records in ([0-9.]+) s.*/\1/p' "$TMP/$1.log" | head -1 |
                awk -v n="$N" -v l="$1" '$1 > 0 { printf "%s: %d input records in %.2f s = %.0f input records/s\n", l, n, $1, n / $1 }'
}
run "keys in memory (state_memory_mb: 256)" bench-dedupe 256
run "state_memory_mb: 1" bench-dedupe-small 1
rm -rf "$TMP/state-bench-dedupe"
run restore bench-dedupe 256 1s
$PY - "$TMP/restore.log" <<'PY'
import re, sys
rows = [(int(m.group(1)), float(m.group(2))) for m in re.finditer(
        r"restored: (\d+) changelog records applied in ([0-9.]+) s", open(sys.argv[1]).read())]
n, s = sum(r[0] for r in rows), sum(r[1] for r in rows)
# Pipelined restores overlap: their tasks' durations do not add up; the
# rebalance's own line has the time by the clock.
totals = [(int(m.group(1)), int(m.group(2)), float(m.group(3))) for m in re.finditer(
        r"(\d+) tasks restored \(pipelined\): (\d+) changelog records applied in ([0-9.]+) s",
        open(sys.argv[1]).read())]
if totals:
    rows = range(sum(t[0] for t in totals))
    n, s, how = sum(t[1] for t in totals), sum(t[2] for t in totals), "pipelined"
else:
    how = "serial"
print("restore from the changelog: %d records over %d partitions in %.2f s (%s) = %.0f records/s"
      % (n, len(rows), s, how, n / s if s else 0))
# By the log's clock, serial or not: the first task's start to the last task's end.
import datetime
ts = [(datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp(), float(m.group(2)))
      for m in re.finditer(r"^(\S+)Z .*restored: \d+ changelog records applied in ([0-9.]+) s",
                           open(sys.argv[1]).read(), re.M)]
if ts:
    wall = ts[-1][0] - (ts[0][0] - ts[0][1])
    print("  by the clock: %.2f s = %.0f records/s" % (wall, n / wall if wall else 0))
PY
run "plain, again" bench-dedupe-again 256
run "repartition: true" bench-dedupe-rp 256 3s true
input_rate "plain, again"
input_rate "repartition: true"
