#!/usr/bin/env bash
# sql.sh - sql_sink into SQLite and into a throwaway PostgreSQL (tests/pg.sh; fsync on), upsert
# (20,000 sensors: mostly updates) and append, beside raw librdkafka consume of the same topic and
# beside bench/sql_loop.c, a plain C loop doing the same inserts with the same technique, all in
# one run. Rates: spate's from the first row the sink buffered to the end of its last SQL commit
# (its exit line), the loop's own clock.
. "$(dirname "$0")/lib.sh"
. tests/pg.sh
N=${BENCH_SQL_N:-500000}
start_broker --topic bench.sql.sensors:32 $(for a in upsert-sqlite append-sqlite upsert-postgres append-postgres; do echo --topic bench-sql-$a-dlq:1; done) || exit 1
echo "== sql_sink: generating and producing $N sensor records (32 partitions)"
$PY bench/gen_sensors.py "$N" "$TMP/sensors.tsv"
$KT produce "$BOOT" bench.sql.sensors "$TMP/sensors.tsv" 2>/dev/null || exit 1
raw=$("$SPATE_BENCH_BIN/raw_consume" "$BOOT" bench.sql.sensors "$N") || { echo "$raw"; exit 1; }
echo "$raw"
raw_rate=$(echo "$raw" | sed -E 's/.*= ([0-9]+) records.*/\1/')
pg=no
if pg_available && pg_start >/dev/null; then pg=yes; else echo "PostgreSQL not available: SQLite only"; fi
results=()
for backend in sqlite postgres; do
        [ $backend = postgres ] && [ $pg = no ] && continue
        for mode in upsert append; do
                db=$TMP/spate-$mode.db; loopdb=$TMP/loop-$mode.db
                [ $backend = postgres ] && db=$PG_URL && loopdb=$PG_URL
                SQL_BACKEND=$backend SQL_DB=$db "$SPATE_BIN" run bench/sql_$mode.yaml --until-idle 2s \
                        2>"$TMP/spate-$backend-$mode.log"
                sp=$(grep -o "[0-9]* rows written.*" "$TMP/spate-$backend-$mode.log")
                loop=$("$SPATE_BENCH_BIN/sql_loop" $backend "$loopdb" $mode "$N") || loop="loop: failed"
                echo "$backend $mode: spate $sp; $loop"
                results+=("$backend $mode $(echo "$sp" | sed -E 's/.*= ([0-9]+) rows.*/\1/') $(echo "$loop" | sed -E 's/.*= ([0-9]+) rows.*/\1/')")
        done
done
for r in "${results[@]}"; do
        read -r backend mode sp loop <<<"$r"
        $PY -c 'import sys; b, m, raw, sp, lp = sys.argv[1:]; raw, sp, lp = float(raw), float(sp or 0), float(lp or 0)
print("RESULT sql_sink %s %s: raw consume %.0f rec/s, spate %.0f rows/s (%.2fx raw), plain C loop %.0f rows/s (spate/loop %.2f; goal: >= min(100k, loop))" % (b, m, raw, sp, sp / raw, lp, sp / lp if lp else 0))' \
                "$backend" "$mode" "$raw_rate" "$sp" "$loop"
done
