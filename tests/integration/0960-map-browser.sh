#!/usr/bin/env bash
# 0960-map-browser.sh - the live map in a real browser: the flagship at small scale (weather-sim
# x60, 300 coordinates, rain_next_hour.yaml, region_hourly.yaml with --http), headless Chromium
# (Debian's) driven over the DevTools protocol opens the map before the poller starts, waits for
# live data from the event stream, and once the poller is stopped checks that the numbers the page shows for every region
# equal the latest hour of that region in region.hourly; hovers a region and reads its tooltip;
# saves a screenshot (SPATE_MAP_PNG=path keeps it, e.g. docs/map.png).
. "$SPATE_ROOT/tests/lib.sh"
cd "$SPATE_ROOT"
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || { skip "map in a browser" "chromium not installed (make deps)"; exit 0; }
$PY -c 'import websocket' 2>/dev/null || { skip "map in a browser" "python3-websocket not installed (make deps)"; exit 0; }
rain=topology/rain_next_hour.yaml region=topology/region_hourly.yaml
start_broker --topology $rain --topology $region || { nok "broker starts"; exit 1; }
sim_port=$(free_port 1)
bg "$SPATE_BIN" weather-sim --listen 127.0.0.1:$sim_port --speed 60 >"$TMP/sim.out" 2>"$TMP/sim.log"
wait_for 10 grep -q http "$TMP/sim.out" || { nok "weather-sim starts"; exit 1; }
export OWM_URL=http://127.0.0.1:$sim_port POLL_EVERY=10s
N=${N_0960:-300}   # coordinates (the README's screenshot: N_0960=3000 SPATE_MAP_PNG=docs/map.png)
"$SPATE_BIN" gen-coords --bbox 42.5,-4.5,51,8 --bbox 51.3,4,53.3,7 --count "$N" --out "$TMP/coords.csv"
"$SPATE_BIN" load-coordinates "$TMP/coords.csv" --topic coords --bootstrap "$BOOT" 2>"$TMP/load.log"
http=$(free_port 1)
SPATE_STATE_DIR=$TMP/state-region "$SPATE_BIN" run $region --http "127.0.0.1:$http" 2>"$TMP/spate-region.log" &
region_pid=$!; _pids+=($region_pid)
check "the region run logs the map's URL" wait_for 30 grep -q "http://127.0.0.1:$http/" "$TMP/spate-region.log"

# Chromium picks its DevTools port itself (no clash with another suite's free_port) and writes
# it to DevToolsActivePort once it listens. Its start took over 30 s on a busy CI machine, so the
# wait ends when it answers or exits (its stderr printed then), with a generous bound only.
mkdir -p "$TMP/chromium"
bg "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$TMP/chromium" \
        --remote-debugging-port=0 about:blank 2>"$TMP/chromium.log"
chromium_pid=$!
devtools_up() {  # until Chromium answers, or exits; 180 s at the most
        local end=$((SECONDS + 180))
        while [ $SECONDS -lt $end ]; do
                devtools=$(head -1 "$TMP/chromium/DevToolsActivePort" 2>/dev/null)
                [ -n "$devtools" ] && curl -sf "http://127.0.0.1:$devtools/json/version" -o /dev/null && return 0
                kill -0 "$chromium_pid" 2>/dev/null || return 1
                sleep 0.2
        done
        return 1
}
t=$SECONDS
if devtools_up; then
        ok "chromium's DevTools endpoint answers (port $devtools, after $((SECONDS - t)) s)"
else
        nok "chromium's DevTools endpoint answers ($(kill -0 "$chromium_pid" 2>/dev/null && echo "no answer in 180 s" || echo "chromium exited"))"
        tail -30 "$TMP/chromium.log" | sed 's/^/# chromium: /'
        exit 1
fi
# The page keeps what the run reads and writes from the moment its event stream opens: first the
# browser, then the poller.
browser() { $PY tests/tools/map_browser.py "$@" >"$TMP/browser.out" 2>&1 || nok "map_browser.py $1 ran ($(tail -1 "$TMP/browser.out"))"
            while read -r line; do case $line in ok*) ok "${line#ok }";; "not ok"*) nok "${line#not ok }";; esac; done <"$TMP/browser.out"; }
browser open "$devtools" "http://127.0.0.1:$http/"
SPATE_STATE_DIR=$TMP/state-rain start_spate rain $rain
# Live data first: two polls of every coordinate (the topic's watermarks; region.hourly cannot be
# read to its end while the poller keeps it growing).
check "weather.readings has two polls of the $N coordinates within 120 s" wait_count 120 weather.readings $((2 * N))
# Then the poller stops, the region run drains weather.readings (its lag on /metrics is 0), and
# region.hourly stops changing: the page must show exactly its latest hour per region.
kill -TERM "$SPATE_PID_rain"; wait "$SPATE_PID_rain"
lag0() {
        curl -s "http://127.0.0.1:$http/metrics" | $PY -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
lag = [s.value for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples
       if s.name == "spate_consumer_lag_records" and s.labels["topic"] == "weather.readings"]
sys.exit(not lag or sum(lag) > 0)'
}
check "the region run caught up with weather.readings (lag 0 on /metrics)" wait_for 60 lag0
$KT consume "$BOOT" region.hourly --idle 2 >"$TMP/region.hourly.jsonl"
browser check "$devtools" "$TMP/region.hourly.jsonl" "$TMP/map.png"
check "the screenshot is a PNG" bash -c "file '$TMP/map.png' | grep -q 'PNG image data, 1400 x 900'"
[ -z "${SPATE_MAP_PNG:-}" ] || cp "$TMP/map.png" "$SPATE_MAP_PNG"
kill -TERM "$region_pid"; wait "$region_pid"; rc=$?
check "spate run --http exits 0 on SIGTERM with a browser connected to /events" [ "$rc" -eq 0 ]
