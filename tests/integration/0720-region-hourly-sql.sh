#!/usr/bin/env bash
# 0720-region-hourly-sql.sh - topology/region_hourly_sql.yaml: region.hourly's running hourly means
# upserted into PostgreSQL as region_hourly (hour, region, temperature, numberOfPoints), by two
# instances with kill -9s while updates flow. The table must hold each hour's last update (Python
# reference), and the README's query (temperature and temperature 3 hours before) must return
# the reference's rows in order.
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/pg.sh"
if ! pg_available; then skip "region_hourly_sql into PostgreSQL" "postgresql is not installed (make deps)"; exit 0; fi
REF=$SPATE_ROOT/tests/ref/region_sql_ref.py
topo=$SPATE_ROOT/topology/region_hourly_sql.yaml
$PY "$REF" gen "$TMP/in.tsv"
start_broker --topic region.hourly:8 --topic region-hourly-sql-dlq:1 || { nok "broker starts"; exit 1; }
pg_start -c fsync=off || { nok "PostgreSQL starts"; exit 1; }
split -n l/6 -d "$TMP/in.tsv" "$TMP/part."
( for f in "$TMP"/part.*; do $KT produce "$BOOT" region.hourly "$f" >/dev/null 2>&1 || exit 1; sleep 1; done ) &
producer=$!
start_spate a "$topo"
start_spate b "$topo"
for v in a b a; do
        sleep 2
        kill_spate "$v"
        echo "# killed $v with SIGKILL"
        start_spate "$v" "$topo"
done
check "produced $(wc -l <"$TMP/in.tsv") hourly updates while instances were killed" wait "$producer"
# The README's query, verbatim from the topology file's header.
query=$(sed -n 's/^#   //p' "$topo" | sed -n '/^SELECT/,/;$/p')
dump() {
        pg_sql "SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), region, temperature, \
                \"numberOfPoints\" FROM region_hourly" >"$TMP/table.tsv" 2>/dev/null &&
        pg_sql "SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), region, temperature, \
                temperature_3h_before FROM (${query%;}) q" >"$TMP/query.tsv" 2>/dev/null
}
exact() { dump && $PY "$REF" compare "$TMP/in.tsv" "$TMP/table.tsv" "$TMP/query.tsv" "$@"; }
check "drained: the table equals the reference within 60 s" wait_for 60 exact -q
while read -r status rest; do
        if [ "$status" = ok ]; then ok "${rest#- }"; else nok "${rest#*- }"; fi
done < <(exact)
check "nothing dead-lettered" [ "$($KT count "$BOOT" region-hourly-sql-dlq)" -eq 0 ]
grep -A4 "^SELECT" "$TMP/query.tsv" >/dev/null; head -3 "$TMP/query.tsv" | sed 's/^/# /'
