#!/usr/bin/env bash
# poll.sh - http_poll at 50,000 coordinates per minute by one instance against the simulator
# (exclude=hourly,daily): reports requests served, the instance's CPU share of one core
# ((user + sys) / wall, goal < 25 %) and its peak RSS.
set -u
cd "$(dirname "$0")/.."
: "${SPATE_BIN:?run through make bench}"
N=${POLL_N:-50000}
SECS=${POLL_SECS:-75}
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/spate-poll.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$TMP"' EXIT
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SPATE_BIN" broker --listen 127.0.0.1:$((port % 20000 + 30000)) --topology bench/poll.yaml >"$TMP/boot" 2>"$TMP/broker.log" &
pids+=($!)
"$SPATE_BIN" weather-sim --listen 127.0.0.1:0 --threads 2 >"$TMP/sim.url" 2>"$TMP/sim.err" &
pids+=($!)
for _ in $(seq 50); do grep -q 127 "$TMP/boot" 2>/dev/null && [ -s "$TMP/sim.url" ] && break; sleep 0.1; done
export SPATE_BOOTSTRAP=$(head -1 "$TMP/boot") OWM_URL=$(head -1 "$TMP/sim.url")
echo "== http_poll: $N coordinates every 60 s, one instance, ${SECS} s"
"$SPATE_BIN" gen-coords --bbox 41.3,-5.2,51.1,9.6 --count "$N" --out "$TMP/coords.csv"
"$SPATE_BIN" load-coordinates "$TMP/coords.csv" --topic bench.coords || exit 1
/usr/bin/time -f "%e %U %S %M" -o "$TMP/time" timeout -s TERM "$SECS" "$SPATE_BIN" run bench/poll.yaml 2>"$TMP/spate.log"
read -r wall u s rss < <(tail -1 "$TMP/time")
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
