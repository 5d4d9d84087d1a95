#!/usr/bin/env bash
# 0701-sql-pg-exact.sh - sql_sink into a throwaway PostgreSQL through kill -9s and a server crash
# and restart: every table equals the reference (tests/sql_exact.sh describes the run).
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/pg.sh"
. "$SPATE_ROOT/tests/sql_exact.sh"
if ! pg_available; then skip "sql_sink into PostgreSQL" "postgresql is not installed (make deps)"; exit 0; fi
sql_exact postgres
