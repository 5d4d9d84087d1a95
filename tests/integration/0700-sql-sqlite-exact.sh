#!/usr/bin/env bash
# 0700-sql-sqlite-exact.sh - sql_sink into SQLite through kill -9s: every table equals the
# reference (tests/sql_exact.sh describes the run).
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/sql_exact.sh"
sql_exact sqlite
