#!/usr/bin/env bash
# 0741-current-weather-pg.sh - topology/current_weather.yaml into a throwaway PostgreSQL, with a
# kill -9 and a server crash and restart: every table equals the reference (tests/current_weather.sh
# describes the run).
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/pg.sh"
. "$SPATE_ROOT/tests/current_weather.sh"
if ! pg_available; then skip "current_weather.yaml into PostgreSQL" "postgresql is not installed (make deps)"; exit 0; fi
current_weather_test postgres
