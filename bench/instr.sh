#!/usr/bin/env bash
# instr.sh - instructions a record of the issue-20 jobs (bench/sensor_region.yaml on sensor-shaped
# records, bench/map_sink.yaml on the legacy ones), counted by callgrind over 64,000 records run
# through the test driver in one process (bench/driver_instr.c): what spate's own code costs a
# record (the driver's topics stand in for Kafka), the same on a busy machine and a calm one.
# Collected: spate_driver_process and spate_driver_commit with all they call (records in, the
# nodes, commits, the driver's copies of what is produced). Prints each job's total and its JSON
# decoding and writing; the callgrind files stay in $OUT (default a temporary directory).
# usage: bench/instr.sh [N]   (records, default 64000; needs valgrind and build/bench/driver_instr)
cd "$(dirname "$0")/.." || exit 1
N=${1:-64000}
BIN=${SPATE_BENCH_BIN:-build/bench}/driver_instr
command -v valgrind >/dev/null || { echo "instr.sh: valgrind is not installed" >&2; exit 1; }
[ -x "$BIN" ] || { echo "instr.sh: $BIN is not built (make tests)" >&2; exit 1; }
OUT=${OUT:-$(mktemp -d /tmp/spate-instr.XXXXXX)}
mkdir -p "$OUT" || exit 1
/usr/bin/python3 bench/gen_sensors.py "$N" "$OUT/sensors2.tsv" --shape sensor
/usr/bin/python3 bench/gen_sensors.py "$N" "$OUT/sensors.tsv"
for job in "region bench/sensor_region.yaml bench.sensors2 sensors2" "map bench/map_sink.yaml bench.sensors sensors"; do
        set -- $job
        valgrind --tool=callgrind --callgrind-out-file="$OUT/$1.cg" --toggle-collect=spate_driver_process \
                --toggle-collect=spate_driver_commit "$BIN" "$2" "$3" "$OUT/$4.tsv" "$N" >"$OUT/$1.out" 2>"$OUT/$1.log" ||
                { cat "$OUT/$1.log"; exit 1; }
        total=$(sed -nE 's/.*Collected : ([0-9]+).*/\1/p' "$OUT/$1.log")
        # a function's inclusive count, 0 if it never ran (builds before spate_json_decode_hinted too)
        part() {
                callgrind_annotate --inclusive=yes "$OUT/$1.cg" 2>/dev/null |
                        awk -v f="$2" '$0 ~ f {gsub(",", "", $1); print $1; found = 1; exit} END {if (!found) print 0}'
        }
        dec=$(part "$1" 'json_scan.c:spate_json_decode(_hinted)? \[') wr=$(part "$1" 'json_write.c:spate_json_write \[')
        echo "$1 ($2): $((total / N)) instructions a record; JSON decoding $((dec / N)), writing $((wr / N)); $(cat "$OUT/$1.out")"
done
echo "callgrind files in $OUT"
