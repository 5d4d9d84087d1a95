#!/usr/bin/env bash
# serial: it counts requests per second of the simulator, which a second test on the 2 cores would skew
# 0430-http-poll-backlog.sh - the request rate is flat again after a backlog (issue 21): 300
# coordinates polled every 10 s over 4 connections; the simulator is made slow (1.5 s per answer,
# under a tenth of the rate needed) for one interval, then fast again. From the simulator's
# request log, against each coordinate's phase recomputed in Python: in the second whole interval
# after the slow one, every coordinate is polled once, on its own phase, and each second of the
# interval sees as many requests as before the backlog. With the old rule (next = last success +
# every) the drained backlog stayed one burst of ~250 requests in a second, every interval.
. "$SPATE_ROOT/tests/lib.sh"
dir=$SPATE_ROOT/tests/integration
EVERY=10 N=300
start_broker --topology "$dir/0430-http-poll-backlog.yaml" || { nok "broker starts"; exit 1; }
bg "$SPATE_BIN" weather-sim --listen 127.0.0.1:0 --log "$TMP/sim.log" --threads 2 >"$TMP/sim.url" 2>"$TMP/sim.err"
wait_for 10 test -s "$TMP/sim.url" || { nok "simulator starts"; cat "$TMP/sim.err"; exit 1; }
export OWM_URL=$(head -1 "$TMP/sim.url")
"$SPATE_BIN" gen-coords --bbox 43,-1,49,7 --count $N --out "$TMP/coords.csv"
check "load-coordinates loads $N" bash -c "'$SPATE_BIN' load-coordinates '$TMP/coords.csv' --topic it0430.coords 2>&1 | grep -q 'loaded $N'"
start_spate a "$dir/0430-http-poll-backlog.yaml"
now_ms() { $PY -c 'import time; print(int(time.time() * 1000))'; }
# last_ms: the newest request the simulator logged
last_ms() { tail -1 "$TMP/sim.log" 2>/dev/null | cut -d' ' -f1; }
past() { local l; l=$(last_ms); [ -n "$l" ] && [ "$l" -ge "$1" ]; }
check "every coordinate is polled twice before the slow episode" \
        wait_for 90 bash -c "[ \$(wc -l <'$TMP/sim.log') -ge $((2 * N)) ]"
# One whole wall-clock interval of the steady rhythm: the baseline.
t=$(now_ms); base=$(( (t / (EVERY * 1000) + 1) * EVERY * 1000 ))
wait_for 60 past $((base + EVERY * 1000)) || nok "the baseline interval was polled"
slow=$(now_ms)
curl -sf -X POST "$OWM_URL/sim/control?latency_ms=1500" >/dev/null || nok "the simulator is made slow"
sleep $EVERY   # the induced backlog: one interval at 1.5 s per answer, 4 at a time
curl -sf -X POST "$OWM_URL/sim/control?latency_ms=0" >/dev/null || nok "the simulator is fast again"
rec=$(now_ms)
k=$(( (rec / (EVERY * 1000) + 1) * EVERY * 1000 ))   # the first whole interval after recovery
check "the simulator served two whole intervals after the slow one" \
        wait_for 90 past $((k + 2 * EVERY * 1000 + 500))
kill -TERM "$SPATE_PID_a"; wait "$SPATE_PID_a"
check "spate run exits 0 on SIGTERM" [ $? -eq 0 ]
cat >"$TMP/check.py" <<'PY'
import csv, os, sys
log, coords_csv, every, base, slow, rec, k = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
every *= 1000
def say(cond, msg): print(("ok " if cond else "not ok ") + msg)
sys.path.insert(0, os.environ["SPATE_ROOT"] + "/tests/ref")
import poll_phase
def phase(cid): return poll_phase.phase(cid, every)
ids = {(round(float(r["lat"]), 4), round(float(r["lon"]), 4)): r["id"] for r in csv.DictReader(open(coords_csv))}
polls = []  # (ms, id)
for l in open(log):
    ms, _, lat, lon, status, fault = l.split()
    polls.append((int(ms), ids[(round(float(lat), 4), round(float(lon), 4))]))
def interval(t0):
    got = [(t, c) for t, c in polls if t0 <= t < t0 + every]
    per_s = [0] * (every // 1000)
    for t, _ in got: per_s[(t - t0) // 1000] += 1
    late = sorted((t - phase(c)) % every for t, c in got)
    return got, per_s, late
b, b_s, b_late = interval(base)
worst = max(((t - phase(c)) % every for t, c in polls if slow <= t < rec + 2000), default=0)
say(worst > 3000, "the slow interval built a backlog: a poll served %d ms after its slot" % worst)
a1, a1_s, _ = interval(k)
a, a_s, a_late = interval(k + every)
n = len(ids)
once = {c for _, c in a}
say(len(a) == n and len(once) == n, "second interval after the backlog: each of the %d coordinates polled once (%d polls, %d coordinates)" % (n, len(a), len(once)))
p90 = a_late[len(a_late) * 9 // 10] if a_late else every
say(p90 < 1000, "on its own phase: 9 in 10 polls within 1 s of their slot (90th percentile %d ms; baseline %d ms)" % (p90, b_late[len(b_late) * 9 // 10]))
diff = max(abs(x - y) for x, y in zip(a_s, b_s))
say(max(a_s) <= max(b_s) * 1.25 + 3 and diff <= max(b_s) * 0.25 + 3,
    "the rate is flat again: requests per second %s (busiest %d), before the backlog %s (busiest %d); "
    "first interval after it %s (busiest %d)" % (a_s, max(a_s), b_s, max(b_s), a1_s, max(a1_s)))
PY
while read -r line; do case $line in ok*) ok "${line#ok }";; *) nok "${line#not ok }";; esac; done \
        < <($PY "$TMP/check.py" "$TMP/sim.log" "$TMP/coords.csv" $EVERY $base $slow $rec $k)
