# region_temps.sh - the test of topology/region_temps.yaml, shared by 0760 (SQLite) and 0761
# (PostgreSQL); source after lib.sh (and pg.sh), then call region_temps_test sqlite|postgres.
# The shipped file as is, on the embedded broker with two instances and kill -9s: the generator's
# readings (tests/tools/gen_region_temps.py: 8 hours across France, other countries, late
# readings within the grace and too late, points in no region's box, new versions of readings:
# corrections while the hour is open, after it closed, past its retention) are produced an hour at a
# time without waiting for the hours to close (a backlog; an hour joined before the row 3 hours
# before is read back into the table is emitted again when that row arrives - join `retention:`,
# which 0780 tests on its own in that order). The final state of the upserted
# table region_hourly_temps (mean, count, temperature3HoursBefore and its nulls: one row per
# region and hour, the last version written) and every dead letter must equal the independent
# reference (tests/ref/region_temps_ref.py).
. "$SPATE_ROOT/tests/sql_job.sh"
region_temps_test() {
        local backend=$1 app=it-0760-$1 hours=8 k
        local topo=$SPATE_ROOT/topology/region_temps.yaml REF=$SPATE_ROOT/tests/ref/region_temps_ref.py
        export REGION_TEMPS_APP=$app READINGS_TOPIC=it0760.readings HOURLY_TOPIC=it0760.hourly \
               COMMIT_INTERVAL=500ms
        mkdir -p "$TMP/gen"
        $PY "$SPATE_ROOT/tests/tools/gen_region_temps.py" 760 "$TMP/gen" "$hours"
        sql_job_setup "$backend" region_temps.db --topology "$topo" --topic "$app-dlq:1" || return 1
        # The table as the reference reads it: the SQLite file, or a dump of the PostgreSQL table.
        rows() {
                [ "$backend" = sqlite ] && { echo "$SQL_DB"; return; }
                pg_sql "SELECT region, to_char(hour, 'YYYY-MM-DD\"T\"HH24:MI:SS'), temperature, \"numberOfPoints\", \
                        \"temperature3HoursBefore\" FROM region_hourly_temps" >"$TMP/table.tsv" 2>/dev/null
                echo "$TMP/table.tsv"
        }
        quiet() { "$@" >/dev/null; }
        check "spate check accepts the topology (bbox_first_match)" quiet "$SPATE_BIN" check "$topo"
        check "spate check accepts it with REGION_MODE=polygon" quiet env REGION_MODE=polygon "$SPATE_BIN" check "$topo"
        sql_job_start a "$topo"
        sql_job_start b "$topo"
        # Phase K closes hour K-1. The phases go in one burst, except that each kill -9 waits until
        # some hours reached the table, so that it falls in the middle of the run.
        ready() { $PY "$REF" ready "$TMP/gen" "$(rows)" "$1"; }
        for ((k = 0; k <= hours; k++)); do
                if { [ $k -eq 3 ] || [ $k -eq 6 ]; } && ! wait_for 30 ready $((k - 3)); then
                        nok "hour $((k - 3)) reaches the table within 30 s"
                        break
                fi
                sql_job_phase "$topo" "$READINGS_TOPIC" $k 3 6
        done
        exact() { $PY "$REF" compare "$TMP/gen" "$(rows)" "$@"; }
        check "every closed hour reaches the table within 30 s" wait_for 30 exact -q
        local want_dlq
        want_dlq=$(sql_job_dead_letters $PY "$REF" expected "$TMP/gen")
        check "the $want_dlq dead letters are in the DLQ" wait_count 20 "$app-dlq" "$want_dlq"
        $KT consume "$BOOT" "$app-dlq" --idle 1 >"$TMP/dlq.jsonl"
        tap_relay "$backend: " < <(exact "$TMP/dlq.jsonl")
        check_sigterm a b
        check "corrections revised closed hours (the window's log says so)" \
              grep -q "closed windows revised so far (corrections" "$TMP/spate-a.log" "$TMP/spate-b.log"
        echo "# join re-emissions (rows 3 hours before read back after their hour):" \
             "$(grep -ho 'with_3h_before: [0-9]* results re-emitted' "$TMP"/spate-*.log | tr '\n' ' ')"
        sql_job_check_password
}
