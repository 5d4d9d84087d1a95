#!/usr/bin/env bash
# poll.sh - http_poll at 50,000 coordinates per minute by one instance against the simulator
# (exclude=hourly,daily): reports requests served, the instance's CPU share of one core
# ((user + sys) / wall, goal < 25 %) and its peak RSS.
# env: POLL_N (coordinates, 50000), POLL_SECS (75), BENCH_PORT (bench/lib.sh)
. "$(dirname "$0")/lib.sh"
N=${POLL_N:-50000}
SECS=${POLL_SECS:-75}
start_broker --topology bench/poll.yaml || exit 1
bg "$SPATE_BIN" weather-sim --listen 127.0.0.1:0 --threads 2 >"$TMP/sim.url" 2>"$TMP/sim.err"
wait_for 10 test -s "$TMP/sim.url" || { echo "the simulator did not start"; cat "$TMP/sim.err"; exit 1; }
export OWM_URL=$(head -1 "$TMP/sim.url")
echo "== http_poll: $N coordinates every 60 s, one instance, ${SECS} s"
"$SPATE_BIN" gen-coords --bbox 41.3,-5.2,51.1,9.6 --count "$N" --out "$TMP/coords.csv"
"$SPATE_BIN" load-coordinates "$TMP/coords.csv" --topic bench.coords || exit 1
timed timeout -s TERM "$SECS" "$SPATE_BIN" run bench/poll.yaml 2>"$TMP/spate.log"
wall=$T_WALL u=$T_USER s=$T_SYS rss=$T_RSS
stats=$(curl -s "$OWM_URL/stats")
grep "http_poll:" "$TMP/spate.log" | tail -1 | sed 's/.*http_poll:/spate: http_poll:/'
$PY - "$wall" "$u" "$s" "$rss" "$stats" "$SECS" <<'PY'
import json, sys
wall, u, s, rss = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
st = json.loads(sys.argv[5])
ok = st["by_status"].get("200", 0)
print("sim: %d requests (%d ok), max %d in any 60 s window" % (st["requests"], ok, st["max_requests_in_any_60s_window_per_key"]))
print("RESULT http_poll: %.0f requests/min over %.0f s, CPU %.1f %% of one core (user %.1fs sys %.1fs; goal < 25 %%), peak RSS %d MB"
      % (st["requests"] * 60 / wall, wall, 100 * (u + s) / wall, u, s, rss // 1024))
PY
