# sql_job.sh - what the tests of SQL jobs share (municipal.sh, region_temps.sh,
# current_weather.sh, sql_exact.sh): the broker and the SQL backend they write to, instances
# killed with SIGKILL and started again, the DLQ count the reference expects, and the password
# check. Source after lib.sh (and pg.sh for PostgreSQL).

# sql_job_setup BACKEND SQLITE_FILE START_BROKER_ARGS...: the embedded broker (start_broker with
# the args), then with BACKEND postgres a throwaway PostgreSQL (pg.sh) and SQL_DB its URL, with
# sqlite SQL_DB=$TMP/SQLITE_FILE. Exports SQL_BACKEND and SQL_DB; 1 (with a failed check) if a
# server does not start.
sql_job_setup() {
        local backend=$1 file=$2; shift 2
        export SQL_BACKEND=$backend
        start_broker "$@" || { nok "broker starts"; return 1; }
        if [ "$backend" = postgres ]; then
                pg_start -c fsync=off || { nok "PostgreSQL starts"; return 1; }
                export SQL_DB=$PG_URL
        else
                export SQL_DB=$TMP/$file
        fi
}

# sql_job_start NAME TOPOLOGY: instance NAME (start_spate), its state in $TMP/state-NAME.
sql_job_start() { SPATE_STATE_DIR=$TMP/state-$1 start_spate "$1" "$2"; }

# sql_job_kill9 NAME TOPOLOGY WHEN: SIGKILL to instance NAME (said as "# killed NAME with
# SIGKILL WHEN"), then NAME again on the state it left.
sql_job_kill9() {
        kill_spate "$1"
        echo "# killed $1 with SIGKILL $3"
        sql_job_start "$1" "$2"
}

# sql_job_phase TOPOLOGY TOPIC K KILL_A KILL_B: the generator's phase K ($TMP/gen/phase-K.tsv)
# produced to TOPIC, each record to its key's partition; after phase KILL_A instance a is killed
# with SIGKILL and started again (sql_job_kill9), after KILL_B instance b.
sql_job_phase() {
        local topo=$1 topic=$2 k=$3
        $KT produce "$BOOT" "$topic" "$TMP/gen/phase-$k.tsv" --partitioned >/dev/null 2>&1 || nok "produce phase $k"
        case $k in
        "$4") sql_job_kill9 a "$topo" "after phase $k" ;;
        "$5") sql_job_kill9 b "$topo" "after phase $k" ;;
        esac
}

# sql_job_dead_letters REF_COMMAND...: the "dead_letters" count of the JSON object the reference
# command prints last (its `expected` summary).
sql_job_dead_letters() {
        "$@" | tail -1 | $PY -c 'import json, sys; print(json.load(sys.stdin)["dead_letters"])'
}

# sql_job_check_password: with PostgreSQL, a check that its password is in no instance's log.
sql_job_check_password() {
        [ "$SQL_BACKEND" = postgres ] || return 0
        check "the PostgreSQL password is in no log" bash -c "! grep -q '$PG_PASSWORD' '$TMP'/spate-*.log"
}
