#!/usr/bin/env bash
# 0710-sql-errors.sh - sql_sink start-up errors say what to fix, on SQLite and PostgreSQL: a
# PostgreSQL URL with a wrong password or no URL syntax (the password masked), an existing table
# missing a declared column, a column of the wrong type, a missing table with create: false.
# Then slow commits show in the log, and (PostgreSQL) a server stopped under a running instance:
# the commit is held and retried with backoff, the consumer takes nothing more meanwhile (the
# held row count stays the same while input waits), and every row is in once the server is back.
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/pg.sh"
topo=$SPATE_ROOT/tests/integration/0710-sql-errors.yaml
start_broker --topic it0710.in:2 --topic it-0710-dlq:1 || { nok "broker starts"; exit 1; }

# fails_with WHAT TEXT VAR=value...: spate run exits non-zero at start, its error holding TEXT.
fails_with() {
        local what=$1 text=$2; shift 2
        env "$@" timeout 60 "$SPATE_BIN" run "$topo" >"$TMP/out" 2>&1
        local rc=$?
        local line
        line=$(grep -m1 "ERROR" "$TMP/out" | sed 's/.*ERROR *run: //')
        check "$what fails at start: $line" bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF -- \"\$1\" '$TMP/out'" _ "$text"
}

db=$TMP/r.db
$PY - "$db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TABLE t_missing (sensor TEXT PRIMARY KEY, seq INTEGER)")
c.execute("CREATE TABLE t_type (sensor TEXT PRIMARY KEY, seq TEXT, temp REAL)")
c.commit()
PY
for b in sqlite postgres; do
        if [ $b = postgres ]; then
                if ! pg_available; then skip "PostgreSQL start-up errors" "postgresql is not installed"; break; fi
                pg_start -c fsync=off || { nok "PostgreSQL starts"; break; }
                db=$PG_URL
                pg_sql "CREATE TABLE t_missing (sensor text PRIMARY KEY, seq bigint); \
                        CREATE TABLE t_type (sensor text PRIMARY KEY, seq text, temp double precision)"
                bad=${PG_URL/$PG_PASSWORD/not-the-password}
                fails_with "postgres: a wrong password" \
                        "0710-sql-errors.yaml:16:15: sql_sink node 'out': cannot connect to PostgreSQL at postgresql://spate:***@127.0.0.1:$PG_PORT/spate (check the host, port, user, password and database of the URL)" \
                        SQL_BACKEND=postgres SQL_DB="$bad"
                check "postgres: the wrong password is not in the message" bash -c "! grep -q not-the-password '$TMP/out'"
                fails_with "postgres: no URL syntax" "is not a PostgreSQL URL" SQL_BACKEND=postgres SQL_DB="host=x port=abc password=hunter2 junk"
                check "postgres: a password in conninfo syntax is masked" bash -c "! grep -q hunter2 '$TMP/out' && grep -q 'password=\*\*\*' '$TMP/out'"
                free=$(free_port)
                fails_with "postgres: nothing listening" "cannot connect to PostgreSQL at postgresql://spate:***@127.0.0.1:$free/spate" \
                        SQL_BACKEND=postgres SQL_DB="postgresql://spate:$PG_PASSWORD@127.0.0.1:$free/spate"
        fi
        fails_with "$b: a table missing a declared column" "column 'temp' is missing from table 't_missing' (add it, or remove it from columns:)" \
                SQL_BACKEND=$b SQL_DB="$db" SQL_TABLE=t_missing SQL_CREATE=false
        fails_with "$b: a column of another type" "column 'seq' of table 't_type' is" \
                SQL_BACKEND=$b SQL_DB="$db" SQL_TABLE=t_type SQL_CREATE=false
        fails_with "$b: a missing table with create: false" "table 'nope' does not exist (create it, or set create: true)" \
                SQL_BACKEND=$b SQL_DB="$db" SQL_TABLE=nope SQL_CREATE=false
        # A working run, every commit "slow": the log says so.
        printf 's1\t{"sensor":"s1","seq":1,"temp":2.5}\ns2\t{"sensor":"s2","seq":2,"temp":3.5}\n' >"$TMP/in.tsv"
        $KT produce "$BOOT" it0710.in "$TMP/in.tsv" >/dev/null 2>&1
        env SQL_BACKEND=$b SQL_DB="$db" SQL_SLOW=0ms timeout 60 "$SPATE_BIN" run "$topo" --until-idle 2s >"$TMP/out" 2>&1
        check "$b: a commit slower than slow_commit is logged ($(grep -m1 -o 'slow commit: .*' "$TMP/out"))" \
                grep -q "sql_sink 'out': slow commit: [0-9]* rows in [0-9]* ms (slow_commit: 0 ms)" "$TMP/out"
done

# PostgreSQL down under a running instance.
if pg_available && [ -n "${PG_URL:-}" ]; then
        rows_are() {  # N: the table holds N rows of this phase
                [ "$(pg_sql "SELECT count(*) FROM readings WHERE sensor LIKE 'p%'" 2>/dev/null)" = "$1" ]
        }
        batch() {  # FROM TO: records p<FROM>..p<TO-1> to the input
                for ((i = $1; i < $2; i++)); do printf 'p%d\t{"sensor":"p%d","seq":%d,"temp":1.5}\n' $i $i $i; done >"$TMP/b.tsv"
                $KT produce "$BOOT" it0710.in "$TMP/b.tsv" >/dev/null 2>&1
        }
        env SQL_BACKEND=postgres SQL_DB="$PG_URL" "$SPATE_BIN" run "$topo" 2>"$TMP/down.log" &
        _pids+=($!); down=$!
        batch 0 2
        check "postgres: a running instance writes" wait_for 30 rows_are 2
        pg_stop fast
        batch 2 102
        check "postgres down: the commit is held and retried with backoff" \
                wait_for 30 grep -q "holding the commit of [0-9]* rows, retry 3 in 800 ms" "$TMP/down.log"
        batch 102 302
        wait_for 30 grep -q "retry 5 in" "$TMP/down.log"
        held=$(grep -o "holding the commit of [0-9]* rows" "$TMP/down.log" | sort -u)
        check "postgres down: nothing more is consumed while the commit is held ($held; 200 more records waiting)" \
                [ "$(wc -l <<<"$held")" -eq 1 ]
        _pg_ctl_start
        check "postgres back: all 302 rows are in, once each" wait_for 60 rows_are 302
        kill -TERM "$down"; wait "$down"
        check "postgres: the instance that waited out the outage stops cleanly" [ $? -eq 0 ]
fi
