#!/usr/bin/env bash
# 0771-municipal-pg.sh - topology/municipal.yaml into PostgreSQL (SQL_BACKEND=postgres), as shipped,
# with two instances, kill -9s and side data changing while it runs: every row of both tables and
# every dead letter equals the reference (tests/municipal.sh describes the run).
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/pg.sh"
if ! pg_available; then skip "municipal into PostgreSQL" "postgresql is not installed (make deps)"; exit 0; fi
. "$SPATE_ROOT/tests/municipal.sh"
municipal_test postgres
