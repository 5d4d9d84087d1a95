#!/usr/bin/env bash
# 0900-flagship.sh - the flagship job end to end, as `make run` wires it: the weather simulator at
# x180, 300 coordinates over France and the Netherlands, topology/rain_next_hour.yaml and
# topology/region_hourly.yaml, each run by TWO instances. Every reading's rain equals the
# simulator's model recomputed independently; every closed region-hour equals a shapely + Python
# recomputation from the readings and the GeoJSON; nothing goes to the DLQs.
. "$SPATE_ROOT/tests/lib.sh"
cd "$SPATE_ROOT"
rain=topology/rain_next_hour.yaml region=topology/region_hourly.yaml
start_broker --topology $rain --topology $region || { nok "broker starts"; exit 1; }
sim_port=$(free_port 1)
bg "$SPATE_BIN" weather-sim --listen 127.0.0.1:$sim_port --speed 180 >"$TMP/sim.out" 2>"$TMP/sim.log"
wait_for 10 grep -q http "$TMP/sim.out" || { nok "weather-sim starts"; exit 1; }
export OWM_URL=http://127.0.0.1:$sim_port POLL_EVERY=10s HOURLY_GRACE=30m CLOSE_AFTER_IDLE=10m
"$SPATE_BIN" gen-coords --bbox 42.5,-4.5,51,8 --bbox 51.3,4,53.3,7 --count 300 --out "$TMP/coords.csv"
check "load-coordinates loads 300 coordinates" bash -c "'$SPATE_BIN' load-coordinates '$TMP/coords.csv' --topic coords --bootstrap $BOOT 2>&1 | grep -q 'loaded 300'"
for i in 1 2; do
        SPATE_STATE_DIR=$TMP/state-rain-$i start_spate rain$i $rain
        SPATE_STATE_DIR=$TMP/state-region-$i start_spate region$i $region
done
# At x180 a simulated hour is 20 s: the first whole hour closes (its end + 30 min grace) within
# 2.5 simulated hours, 50 s; the bound allows for a busy machine.
check "region.hourly.final has closed hours" wait_count 240 region.hourly.final 1
# Every coordinate is polled every 10 s, but two instances, their rebalances and a busy machine can
# hold some back past the first closed hour (270 of 300 once in a full CI run): wait for all. The
# pollers never stop writing, so each look reads as many records as the topic held when it began.
rain_keys() {
        $KT consume "$BOOT" rain.next_hour --idle 2 --max "$($KT count "$BOOT" rain.next_hour)" |
                $PY -c 'import json, sys; print(len({json.loads(l)["key"] for l in sys.stdin}))'
}
rain_all() { [ "$(rain_keys)" -ge 300 ]; }
check "rain.next_hour has a value for each of the 300 coordinates before the stop" wait_for 120 rain_all
for i in 1 2; do kill -TERM "$(eval echo \$SPATE_PID_rain$i)" "$(eval echo \$SPATE_PID_region$i)"; done
sleep 3
check "both instances of each topology took partitions" bash -c "grep -q 'assigned [1-9]' '$TMP/spate-rain2.log' && grep -q 'assigned [1-9]' '$TMP/spate-region2.log'"
for t in rain.next_hour weather.readings region.hourly.final rain-next-hour-dlq region-hourly-dlq; do
        $KT consume "$BOOT" $t --idle 2 >"$TMP/$t.jsonl"
done
check "nothing in the DLQs" [ ! -s "$TMP/rain-next-hour-dlq.jsonl" -a ! -s "$TMP/region-hourly-dlq.jsonl" ]
{ $PY tests/ref/flagship_ref.py rain "$OWM_URL" "$TMP/rain.next_hour.jsonl" "$TMP/weather.readings.jsonl" "$TMP/coords.csv"
  $PY tests/ref/flagship_ref.py regions topology/regions/france_regions.geojson nom "$TMP/weather.readings.jsonl" \
        "$TMP/region.hourly.final.jsonl"; } >"$TMP/ref.out" 2>&1
while read -r line; do
        case $line in "ok - "*) ok "${line#ok - }";; "not ok - "*) nok "${line#not ok - }";; *) echo "# $line";; esac
done <"$TMP/ref.out"
