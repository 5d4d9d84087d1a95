# municipal.sh - the test of topology/municipal.yaml, shared by 0770 (SQLite) and 0771
# (PostgreSQL); source after lib.sh (and pg.sh), then call municipal_test sqlite|postgres.
# The shipped file as is, on the embedded broker with two instances: the generator's forecasts
# (tests/tools/gen_municipal.py: 10 hours of 22 municipalities, missing and late forecasts,
# corrections of open, closed and expired windows, a last phase of revisions only) are produced
# a phase (an hour) at a time, each once the rows of the one before are in SQL. While it runs: a
# kill -9 of each instance; a newer side-data folder dropped in (later rows carry it); a newer
# folder with a malformed line (refused, dead-lettered, the held version stays) and a
# half-written one without _SUCCESS (ignored). Every row of both tables and every forecast
# dead-lettered must equal the independent reference (tests/ref/municipal_ref.py). The SQLite run
# also has spate check refuse two edits of the file (newer_by misused) with file:line.
. "$SPATE_ROOT/tests/sql_job.sh"
municipal_test() {
        local backend=$1 app=it-0770-$1 hours=10 v2=6 k
        local topo=$SPATE_ROOT/topology/municipal.yaml REF=$SPATE_ROOT/tests/ref/municipal_ref.py
        local side=$TMP/municipalities
        export MUNICIPAL_APP=$app FORECASTS_TOPIC=it0770.forecasts MUNICIPAL_DIR=$side COMMIT_INTERVAL=500ms
        mkdir -p "$TMP/gen/side" "$side"
        $PY "$SPATE_ROOT/tests/tools/gen_municipal.py" forecasts 770 "$TMP/gen" "$hours"
        $PY "$SPATE_ROOT/tests/tools/gen_municipal.py" side "$SPATE_ROOT/topology/municipalities" "$TMP/gen/side"
        cp -r "$SPATE_ROOT/topology/municipalities/2026-12-01" "$side/"
        cp -r "$side/2026-12-01" "$TMP/gen/side/"  # the versions as the reference reads them
        sql_job_setup "$backend" municipal.db --topology "$topo" --topic "$app-dlq:1" || return 1
        # The tables as the reference reads them: the SQLite file, or a dump of each PostgreSQL table.
        rows() {
                [ "$backend" = sqlite ] && { echo "$SQL_DB"; return; }
                local t cols='municipality, to_char(window_start, '"'"'YYYY-MM-DD"T"HH24:MI:SS'"'"'),
                        to_char(window_end, '"'"'YYYY-MM-DD"T"HH24:MI:SS'"'"'), temperature, precipitation,
                        forecasts, name, department, population, side_version'
                for t in versions current; do
                        pg_sql "SELECT $cols FROM municipal_rolling_$t" >"$TMP/$t.tsv" 2>/dev/null
                done
                echo "$TMP/versions.tsv"
        }
        ref() { local cmd=$1; shift; $PY "$REF" "$cmd" "$TMP/gen" "$TMP/gen/side" "$v2" "$@"; }
        # against the tables as they are at each call (a PostgreSQL dump taken again)
        ready() { ref ready "$(rows)" "$1"; }
        exact() { ref compare "$(rows)" "$@"; }
        check "spate check accepts the topology" bash -c "'$SPATE_BIN' check '$topo' >/dev/null"
        # check_refuses WHAT SED LINE:COL TEXT: the topology edited by SED fails spate check with file:line: TEXT
        check_refuses() {
                sed "$2" "$topo" >"$TMP/bad.yaml"
                check "$1 fails at load with file:line" bash -c '! "$0" check "$1" >"$1.out" 2>&1 &&
                        grep -qF -- "$1:$2: sql_sink node '"'rolling_sql'"': $3" "$1.out"' "$SPATE_BIN" "$TMP/bad.yaml" "$3" "$4"
        }
        if [ "$backend" = sqlite ]; then
                check_refuses "newer_by without mode: versioned" 's/mode: versioned .*/mode: upsert/' 81:15 \
                        "newer_by keeps the current table of mode: versioned from going back; it needs mode: versioned"
                check_refuses "newer_by naming no column" 's/newer_by: window_start/newer_by: window_begin/' 81:15 \
                        "newer_by: 'window_begin' is not in columns:"
                check_refuses "history_key naming no column" 's/history_key: \[municipality, window_start\]/history_key: [municipality, window_begin]/' \
                        82:33 "history_key column 'window_begin' is not in columns:"
        fi
        # side_event WHAT PATTERN: both instances log PATTERN after their lines $la and $lb (the
        # folder is checked every second); on failure each instance's log since then. That is how
        # CI showed b stopped at its start, having raced a to switch the new SQLite file to WAL.
        side_event() {
                local what=$1 pattern=$2 name from
                logged() { tail -n +"$2" "$TMP/spate-$1.log" | grep -q "$3"; }
                if wait_for 60 bash -c "$(declare -f logged); TMP=$TMP; logged a $la '$pattern' && logged b $lb '$pattern'"; then
                        ok "$what"
                        return
                fi
                nok "$what"
                for name in a b; do
                        from=$([ $name = a ] && echo "$la" || echo "$lb")
                        echo "# instance $name since line $from:"
                        tail -n +"$from" "$TMP/spate-$name.log" | grep -v 'offset commit failed' | cut -c1-240 | sed 's/^/#   /' | head -40
                done
        }
        # drop NAME: a dated folder from the generator, complete (_SUCCESS written last)
        drop() { mkdir -p "$side/$1"; cp "$TMP/gen/side/$1/municipalities.csv" "$side/$1/"; touch "$side/$1/_SUCCESS"; }
        local la lb
        sql_job_start a "$topo"
        sql_job_start b "$topo"
        for ((k = 0; k <= hours + 1; k++)); do
                if [ $k -ge 1 ] && ! wait_for 30 ready $((k - 1)); then
                        nok "the rows of phase $((k - 1)) reach the table within 30 s"
                        break
                fi
                la=$(wc -l <"$TMP/spate-a.log") lb=$(wc -l <"$TMP/spate-b.log")
                case $k in
                $v2)
                        drop 2026-12-02
                        side_event "both instances load the new side data 2026-12-02 while running" \
                                'loaded version .*2026-12-02' ;;
                $((v2 + 1)))
                        mkdir -p "$side/2026-12-04"  # half written: no _SUCCESS yet
                        cp "$TMP/gen/side/2026-12-04/municipalities.csv" "$side/2026-12-04/"
                        drop 2026-12-03
                        side_event "both instances refuse 2026-12-03 (a malformed line) and keep 2026-12-02" \
                                '2026-12-03 has 1 bad line.*keeping version 2026-12-02' ;;
                esac
                sql_job_phase "$topo" "$FORECASTS_TOPIC" $k 3 8
        done
        check "every row reaches both tables within 30 s" wait_for 30 exact -q
        local want_dlq
        want_dlq=$(sql_job_dead_letters ref expected)
        # + the malformed side-data line, once per instance that refused it
        check "the $want_dlq late forecasts and the malformed side-data line are in the DLQ" \
                wait_count 20 "$app-dlq" $((want_dlq + 2))
        $KT consume "$BOOT" "$app-dlq" --idle 1 >"$TMP/dlq.jsonl"
        check "the malformed line is dead-lettered with its file:line and reason" \
                grep -q "table municipalities: $side/2026-12-03/municipalities.csv:22: 5 cells, the header has 4" "$TMP/dlq.jsonl"
        tap_relay "$backend: " < <(exact "$TMP/dlq.jsonl")
        check_sigterm a b
        # the window results written again unchanged and left out (the exit lines of the runs stopped
        # by SIGTERM: the killed ones print none)
        echo "# $(grep -ho '[0-9]* unchanged (history_key)' "$TMP"/spate-*.log | awk '{s += $1} END {print s + 0}') rows" \
                "equal to their window's latest version not appended again (history_key)"
        sql_job_check_password
}
