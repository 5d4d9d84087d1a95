#!/usr/bin/env bash
# run-demo.sh - `make run`: the flagship job on the embedded broker. Starts the broker, the
# local One Call simulator (simulated time x60, so an hour passes every minute), loads
# ~20,000 coordinates over France and the Netherlands, runs rain_next_hour.yaml and
# region_hourly.yaml (serving the live map and /metrics on HTTP_PORT), and shows rain.next_hour as a
# live table. Ctrl-C stops everything.
#
# Real API: OWM_API_KEY=... OWM_URL=https://api.openweathermap.org OWM_RATE_LIMIT=60/min COORDS=60 make run
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin/spate
RUN=${RUN_DIR:-$PWD/run}
COORDS=${COORDS:-20000}
PORT=${BROKER_PORT:-9092}
SIM_PORT=${SIM_PORT:-8080}
HTTP_PORT=${HTTP_PORT:-9464}   # the region run's live map, /metrics, /health, /ready
mkdir -p "$RUN/logs"
rm -rf "$RUN/state"
pids=()     # spate instances: stopped first, so they commit and leave the group
infra=()    # broker and simulator: in their own session (Ctrl-C does not reach them), stopped last
stop() {
        trap - INT TERM EXIT
        printf '\nstopping...\n'
        for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
        for p in "${infra[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        echo "stopped; logs in $RUN/logs"
}
trap stop INT TERM EXIT

export SPATE_BOOTSTRAP=127.0.0.1:$PORT SPATE_SESSION_TIMEOUT_MS=4000 SPATE_HEARTBEAT_MS=500
export SPATE_STATE_DIR=$RUN/state
real_api=${OWM_API_KEY:+yes}
if [ -z "$real_api" ]; then
        export OWM_URL=http://127.0.0.1:$SIM_PORT
        setsid "$BIN" weather-sim --listen 127.0.0.1:$SIM_PORT --speed 60 >"$RUN/logs/weather-sim.out" 2>"$RUN/logs/weather-sim.log" &
        infra+=($!)
fi
setsid "$BIN" broker --listen 127.0.0.1:$PORT --topology topology/rain_next_hour.yaml \
        --topology topology/region_hourly.yaml >"$RUN/logs/broker.out" 2>"$RUN/logs/broker.log" &
infra+=($!)
for _ in $(seq 100); do grep -q 127.0.0.1 "$RUN/logs/broker.out" 2>/dev/null && break; sleep 0.1; done
echo "embedded Kafka on $(head -1 "$RUN/logs/broker.out")${real_api:+; polling the real API at $OWM_URL}"

"$BIN" gen-coords --bbox 41.3,-5.2,51.1,9.6 --bbox 50.7,3.3,53.6,7.3 --count "$COORDS" \
        --places topology/places/fr_nl_cities.csv --out "$RUN/coords.csv"
"$BIN" load-coordinates "$RUN/coords.csv" --topic coords --bootstrap "$SPATE_BOOTSTRAP" 2>>"$RUN/logs/load.log"

SPATE_STATE_DIR=$RUN/state/rain "$BIN" run topology/rain_next_hour.yaml 2>"$RUN/logs/rain_next_hour.log" &
pids+=($!)
SPATE_STATE_DIR=$RUN/state/region "$BIN" run topology/region_hourly.yaml --http "127.0.0.1:$HTTP_PORT" \
        2>"$RUN/logs/region_hourly.log" &
pids+=($!)
echo "running; region means: bin/spate tail region.hourly --bootstrap $SPATE_BOOTSTRAP (another terminal)"
echo "live map: http://127.0.0.1:$HTTP_PORT/   metrics: http://127.0.0.1:$HTTP_PORT/metrics"
sleep 2
"$BIN" tail rain.next_hour --bootstrap "$SPATE_BOOTSTRAP" --sort rain_mm_next_hour --desc \
        --fields name,rain_mm_next_hour,rain_next_hour,minutes,peak_mm_h,wet_minutes,first_rain_at,temp || true
