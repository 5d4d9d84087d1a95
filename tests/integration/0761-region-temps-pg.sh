#!/usr/bin/env bash
# 0761-region-temps-pg.sh - topology/region_temps.yaml into PostgreSQL (SQL_BACKEND=postgres), as
# shipped, with two instances and kill -9s: every row of region_hourly_temps and every dead letter
# equals the reference (tests/region_temps.sh describes the run).
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/pg.sh"
if ! pg_available; then skip "region_temps into PostgreSQL" "postgresql is not installed (make deps)"; exit 0; fi
. "$SPATE_ROOT/tests/region_temps.sh"
region_temps_test postgres
