#!/usr/bin/env bash
# 0740-current-weather-sql.sh - topology/current_weather.yaml into SQLite, as shipped, with a kill -9:
# every table equals the reference (tests/current_weather.sh describes the run).
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/current_weather.sh"
current_weather_test sqlite
