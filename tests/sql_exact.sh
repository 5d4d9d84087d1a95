# sql_exact.sh - the sql_sink exactness test, shared by 0700 (SQLite) and 0701 (PostgreSQL); source
# after lib.sh (and pg.sh), then call sql_exact sqlite|postgres. One input topic feeds three tables
# (0700-sql-exact.yaml): upsert `latest`, append `history`, versioned `versions` + `versions_current`.
#   - two instances; the input arrives in 10 parts while they are killed with SIGKILL at random
#     moments and restarted (PostgreSQL: the server is also crash-stopped and restarted meanwhile);
#   - then every table must equal tests/ref/sql_ref.py's reference row by row, the rejected rows
#     must be in the DLQ with their SQL error, and (PostgreSQL) the password in no log line.
. "$SPATE_ROOT/tests/sql_job.sh"
sql_exact() {
        local backend=$1 app=it-0700-$1 in=it0700.$1.in
        local N=${N_0700:-40000} SEED=${SEED_0700:-$RANDOM}
        local REF=$SPATE_ROOT/tests/ref/sql_ref.py topo=$SPATE_ROOT/tests/integration/0700-sql-exact.yaml
        RANDOM=$SEED
        echo "# $backend: seed $SEED (SEED_0700=$SEED repeats the kill times), $N records"
        ulimit -c 0
        $PY "$REF" gen "$N" "$SEED" "$TMP/in.tsv"
        sql_job_setup "$backend" results.db --topic "$in:8" --topic "$app-dlq:1" || return 1
        export APP_0700=$app IN_0700=$in
        start() { local n=$1; shift; start_spate "$n" "$topo" "$@"; }

        # 12 parts: 10 while instances are killed, one for each abort step (below).
        split -n l/12 -d "$TMP/in.tsv" "$TMP/part."
        ( for f in "$TMP"/part.0*; do $KT produce "$BOOT" "$in" "$f" >/dev/null 2>&1 || exit 1; sleep 1.5; done ) &
        local producer=$! kills=0 v
        start a
        start b
        for i in 1 2 3 4; do
                kill_at_random 1 3
                if [ "$backend" = postgres ] && [ "$i" = 2 ]; then
                        sleep 1
                        pg_stop immediate
                        echo "# PostgreSQL crash-stopped"
                        sleep 3
                        check "PostgreSQL restarts" _pg_ctl_start
                fi
        done
        # Aborts where it matters: rows committed to the database, input offsets not (a replay
        # must skip them), and rows written but not committed. Each step's part of the input
        # comes once b holds partitions again, so b has rows to commit whatever the timing.
        check "produced the first 10 parts of the input while instances were killed" wait "$producer"
        local part=10 assigned
        for step in sql_after_commit sql_before_commit; do
                kill_spate b
                assigned=$(grep -c "assigned [1-9]" "$TMP/spate-b.log")
                start b SPATE_CRASH_AT=$step
                wait_for 60 bash -c "[ \$(grep -c 'assigned [1-9]' '$TMP/spate-b.log') -gt $assigned ]"
                $KT produce "$BOOT" "$in" "$TMP/part.$part" >/dev/null 2>&1 || nok "produce part $part"
                part=$((part + 1))
                wait_for 40 bash -c "! kill -0 $SPATE_PID_b 2>/dev/null"
                check "instance b aborted itself at $step" grep -q "SPATE_CRASH_AT=$step" "$TMP/spate-b.log"
                start b
        done
        if [ "$backend" = postgres ]; then
                # Whether a commit fell into the outage is chance (the kills may take both
                # instances down through it); 0710 holds a commit deterministically.
                echo "# commits held during the PostgreSQL outage: $(cat "$TMP"/spate-a.log "$TMP"/spate-b.log |
                        grep -c "holding the commit of")"
        fi
        dump() {
                if [ "$backend" = sqlite ]; then echo "$SQL_DB"; return; fi
                mkdir -p "$TMP/dump"
                local ts="to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
                pg_sql "SELECT sensor, seq, temp, ok, $ts FROM latest" >"$TMP/dump/latest.tsv" &&
                pg_sql "SELECT id, sensor, seq, temp, ok, $ts FROM history" >"$TMP/dump/history.tsv" &&
                pg_sql "SELECT sensor, seq, temp, ok, $ts, version FROM versions" >"$TMP/dump/versions.tsv" &&
                pg_sql "SELECT sensor, seq, temp, ok, $ts FROM versions_current" >"$TMP/dump/versions_current.tsv"
                echo "$TMP/dump"
        }
        exact() {
                $KT consume "$BOOT" "$app-dlq" --idle 0.5 >"$TMP/dlq.jsonl" 2>/dev/null
                $PY "$REF" compare "$TMP/in.tsv" "${backend/postgres/pg}" "$(dump 2>/dev/null)" "$TMP/dlq.jsonl" "$@"
        }
        check "drained: every table exact within 120 s" wait_for 120 exact -q
        while read -r status rest; do
                if [ "$status" = ok ]; then ok "$backend, $kills kills: ${rest#- }"; else nok "$backend, $kills kills: ${rest#*- }"; fi
        done < <(exact)
        kill -TERM "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null
        wait "$SPATE_PID_a"; local ra=$?
        wait "$SPATE_PID_b"; local rb=$?
        grep -h "replays skipped" "$TMP"/spate-*.log | sed 's/.*run: /# /'
        check "both instances stop cleanly on SIGTERM ($ra $rb)" [ "$ra $rb" = "0 0" ]
        if [ "$backend" = postgres ]; then
                check "the password is in no log line (URLs are masked)" bash -c "! grep -qF '$PG_PASSWORD' $TMP/spate-*.log"
                check "the logs show the masked URL" grep -q "postgresql://spate:\*\*\*@" "$TMP/spate-a.log"
        fi
}
