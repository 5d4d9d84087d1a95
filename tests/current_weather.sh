# current_weather.sh - the test of topology/current_weather.yaml, shared by 0740 (SQLite) and 0741
# (PostgreSQL); source after lib.sh (and pg.sh), then call current_weather_test sqlite|postgres.
# The shipped file as is, against `spate weather-sim`'s Current Weather API at 3,600 x speed
# across a UTC midnight: the shipped 12 cities plus 18 generated ones polled every second (one
# simulated hour) by two instances, one of them killed with SIGKILL while polls and SQL commits
# flow (PostgreSQL: the server is also crash-stopped and restarted). Once the cities are removed
# (tombstones), the three tables must equal tests/ref/current_weather_ref.py's reference computed
# from weather.current, whose observations must be what the simulator serves for each city and dt.
. "$SPATE_ROOT/tests/sql_job.sh"
current_weather_test() {
        local backend=$1 app=it-0740-$1
        local topo=$SPATE_ROOT/topology/current_weather.yaml REF=$SPATE_ROOT/tests/ref/current_weather_ref.py
        export CW_APP=$app CITIES_TOPIC=it0740.cities OWM_API_KEY=it0740-Key-c0ffee \
               POLL_EVERY=1s OWM_RATE_LIMIT=0 COMMIT_INTERVAL=500ms WINDOW_GRACE=2h
        sql_job_setup "$backend" cw.db --topology "$topo" --topic "$app-dlq:1" || return 1
        # Simulated midnight 24 s after the simulator starts (the polls start ~3 s after it, and
        # ~12 s after it when two suites share the 2 cores: every city must be observed on the
        # first day); the run goes on until 4 simulated hours after it.
        local midnight=$(( ($(date +%s) / 86400 - 7) * 86400 ))
        bg "$SPATE_BIN" weather-sim --listen 127.0.0.1:0 --keys "$OWM_API_KEY" --speed 3600 \
                --start $((midnight - 24 * 3600)) --log "$TMP/sim.log" --threads 2 >"$TMP/sim.url" 2>"$TMP/sim.err"
        wait_for 10 test -s "$TMP/sim.url" || { nok "simulator starts"; cat "$TMP/sim.err"; return 1; }
        export OWM_URL=$(head -1 "$TMP/sim.url")
        "$SPATE_BIN" gen-coords --bbox 43,-1,51,8 --count 18 --prefix g --out "$TMP/gen.csv"
        local cities=$SPATE_ROOT/topology/cities/cities.csv,$TMP/gen.csv f out
        for f in ${cities//,/ }; do
                out=$("$SPATE_BIN" load-coordinates "$f" --topic "$CITIES_TOPIC" 2>&1)
                check "load-coordinates $(basename "$f"): $out" grep -q "loaded 1[28] coordinates" <<<"$out"
        done
        sql_job_start a "$topo"
        sql_job_start b "$topo"
        check "polls flow into weather.current" wait_count 30 weather.current 120
        kill_spate a
        echo "# killed a with SIGKILL at $($KT count "$BOOT" weather.current) observations"
        sql_job_start a "$topo"
        if [ "$backend" = postgres ]; then
                check "polls flow after the kill" wait_count 30 weather.current 240
                pg_stop immediate
                echo "# PostgreSQL crash-stopped at $($KT count "$BOOT" weather.current) observations"
                sleep 1
                check "PostgreSQL restarts" _pg_ctl_start
        fi
        check "polls flow on" wait_count 30 weather.current 420
        sim_past() { [ "$(curl -s "$OWM_URL/stats" | $PY -c 'import json, sys; print(json.load(sys.stdin)["sim_time"])')" -ge "$1" ]; }
        check "simulated time passes 04:00 of the second day" wait_for 60 sim_past $((midnight + 4 * 3600))
        # Removing the cities stops the polls; the tables then catch up with the topic.
        cut -d, -f1 "${cities%,*}" "$TMP/gen.csv" | grep -v '^id$' | sed 's/$/\t/' >"$TMP/tombstones.tsv"
        $KT produce "$BOOT" "$CITIES_TOPIC" "$TMP/tombstones.tsv" --empty-is-null 2>/dev/null
        local prev=-1 n=0 _
        for _ in $(seq 1 15); do
                sleep 1.5
                n=$($KT count "$BOOT" weather.current)
                [ "$n" = "$prev" ] && break
                prev=$n
        done
        check "the polls stop once the cities are removed ($n observations)" [ "$n" = "$prev" ]
        $KT consume "$BOOT" weather.current --idle 1 >"$TMP/topic.jsonl"
        dump() {
                [ "$backend" = sqlite ] && { echo "$SQL_DB"; return; }
                local table sql
                mkdir -p "$TMP/dump"
                while IFS=$'\t' read -r table sql; do
                        pg_sql "$sql" >"$TMP/dump/$table.tsv" || return 1
                done < <($PY "$REF" pg-queries)
                echo "$TMP/dump"
        }
        exact() { $PY "$REF" compare "$TMP/topic.jsonl" "$OWM_URL" "$TMP/sim.log" "$cities" "$(dump 2>/dev/null)" "$@"; }
        check "drained: the three tables equal the reference within 60 s" wait_for 60 exact -q
        tap_relay "$backend: " < <(exact)
        check "nothing dead-lettered" [ "$($KT count "$BOOT" "$app-dlq")" -eq 0 ]
        check "the API key is in no log" bash -c "! grep -q '$OWM_API_KEY' '$TMP'/spate-*.log '$TMP/sim.log'"
        sql_job_check_password
        echo "# $n observations; $(wc -l <"$TMP/topic.jsonl") consumed"
}
