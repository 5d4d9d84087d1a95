#!/usr/bin/env bash
# archive.sh - archive_sink (bench/archive.yaml) on N legacy sensor records (32 partitions), with
# the deflate, snappy and null codecs, by their own time (~28 hours: ~900 files) and mapped into one
# hour (32 files), beside raw librdkafka consume of the same topic and spate map->sink
# (bench/map_sink.yaml), in one run. spate's archive rate runs
# from the first record written to the end of the commit that finalized the last file (its exit
# line); the archive is then read back whole with python3-avro and its record count checked.
. "$(dirname "$0")/lib.sh"
N=${BENCH_ARCHIVE_N:-1000000}
start_broker --topic bench.sensors:32 --topic bench.sensors_f:32 --topic bench-archive-map-dlq:1 \
        $(for r in deflate-ts null-ts deflate-one-hour snappy-one-hour null-one-hour; do echo --topic bench-archive-$r-dlq:1; done) || exit 1
echo "== archive_sink: generating and producing $N sensor records (32 partitions)"
$PY bench/gen_sensors.py "$N" "$TMP/sensors.tsv"
$KT produce "$BOOT" bench.sensors "$TMP/sensors.tsv" 2>/dev/null || exit 1
raw=$("$SPATE_BENCH_BIN/raw_consume" "$BOOT" bench.sensors "$N") || { echo "$raw"; exit 1; }
echo "$raw"
raw_rate=$(echo "$raw" | sed -E 's/.*= ([0-9]+) records.*/\1/')
sed "s/^application: .*/application: bench-archive-map/" bench/map_sink.yaml >"$TMP/map.yaml"
"$SPATE_BIN" run "$TMP/map.yaml" --until-idle 2s 2>"$TMP/map.log" || tail -n 3 "$TMP/map.log"
map_rate=$(grep -o "throughput: .*" "$TMP/map.log" | sed -E 's/.*= ([0-9]+) records.*/\1/')
echo "spate map->sink: $(grep -o "throughput: .*" "$TMP/map.log")"
# The records' `ts` spans ~28 hours: ~900 (partition, hour) files, each finalized with an fsync
# of the file and of its directory (the cost of a backlog of many hours). Mapped into one hour,
# the same records make one file per partition: the cost of the record path.
ONE_HOUR='1699999200000 + ts % 3600000'
for run in "deflate ts" "null ts" "deflate one-hour" "snappy one-hour" "null one-hour"; do
        read -r codec span <<<"$run"
        dir=$TMP/archive-$codec-$span
        t=ts; [ "$span" = one-hour ] && t=$ONE_HOUR
        ARCHIVE_DIR=$dir ARCHIVE_CODEC=$codec ARCHIVE_TIME=$t ARCHIVE_APP=bench-archive-$codec-$span \
                timed "$SPATE_BIN" run bench/archive.yaml --until-idle 2s \
                2>"$TMP/archive.log" || tail -n 3 "$TMP/archive.log"
        u=$T_USER s=$T_SYS rss=$T_RSS
        line=$(grep -o "[0-9]* records written.*" "$TMP/archive.log")
        rate=$(echo "$line" | sed -E 's/.*= ([0-9]+) records.*/\1/')
        read -r files bytes < <(find "$dir" -name '*.avro' -printf '%s\n' | awk '{n++; b+=$1} END {print n, b}')
        back=$($PY -c 'import glob, sys
from avro.datafile import DataFileReader
from avro.io import DatumReader
try:
    print(sum(sum(1 for _ in DataFileReader(open(f, "rb"), DatumReader())) for f in glob.glob(sys.argv[1] + "/*/*/*.avro")))
except Exception as e:  # snappy needs python3-snappy
    print("none (%s)" % e)' "$dir")
        echo "archive $codec, time $t: $line; user ${u}s sys ${s}s, peak RSS $((rss / 1024)) MB; $files files, $((bytes / 1048576)) MB; python3-avro reads back $back records"
        $PY -c 'import sys; c, sp_, raw, mp, sp, back, n = sys.argv[1:]; raw, mp, sp = float(raw), float(mp or 0), float(sp or 0)
print("RESULT archive_sink %s, %s: raw consume %.0f rec/s, spate map->sink %.0f rec/s, spate archive %.0f rec/s (%.2fx raw consume, %.2fx map->sink); %s of %s records read back" % (c, sp_, raw, mp, sp, sp / raw, sp / mp if mp else 0, back, n))' \
                "$codec" "$span" "$raw_rate" "$map_rate" "$rate" "$back" "$N"
        rm -rf "$dir"
done
