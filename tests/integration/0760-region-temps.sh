#!/usr/bin/env bash
# 0760-region-temps.sh - topology/region_temps.yaml into SQLite, as shipped, with two instances and
# kill -9s: every row of region_hourly_temps and every dead letter equals the reference
# (tests/region_temps.sh describes the run).
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/region_temps.sh"
region_temps_test sqlite
