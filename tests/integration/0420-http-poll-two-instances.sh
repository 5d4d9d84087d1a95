#!/usr/bin/env bash
# 0420-http-poll-two-instances.sh - two `http_poll` instances split the coordinates table by
# partition: in a steady interval every coordinate is polled by exactly one of them (the
# simulator logs the X-Spate-Instance header). After a SIGKILL the survivor takes the
# coordinates over within the group's rebalance time, at the same phases.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0420-http-poll-two-instances.yaml
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
bg "$SPATE_BIN" weather-sim --listen 127.0.0.1:0 --log "$TMP/sim.log" --threads 2 >"$TMP/sim.url" 2>"$TMP/sim.err"
wait_for 10 test -s "$TMP/sim.url" || { nok "simulator starts"; exit 1; }
export OWM_URL=$(head -1 "$TMP/sim.url") OWM_API_KEY=it0420-key-0123456789
"$SPATE_BIN" gen-coords --bbox 50.7,3.3,53.6,7.3 --count 2000 --out "$TMP/coords.csv"
check "2000 coordinates loaded" bash -c "'$SPATE_BIN' load-coordinates '$TMP/coords.csv' --topic it0420.coords | grep -q 'loaded 2000'"

SPATE_INSTANCE=inst-a start_spate a "$topo"
SPATE_INSTANCE=inst-b start_spate b "$topo"
ms() { $PY -c 'import time; print(int(time.time() * 1000))'; }
# When spate logged the last line of log $1 that holds $2 (ms): the event's own time, not
# when a poll of the log saw it (which a busy machine or ASan delays).
logged_ms() {
        grep "$2" "$1" | tail -1 | $PY -c 'import sys, datetime
t = datetime.datetime.strptime(sys.stdin.read().split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
print(int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))'
}
# Settled when both hold partitions and nothing was assigned for a while.
settled() {
        grep -q "assigned [1-9]" "$TMP/spate-a.log" && grep -q "assigned [1-9]" "$TMP/spate-b.log"
}
check "both instances are assigned partitions" wait_for 40 settled
sleep 2
t1=$(ms)
sleep 12
t2=$(ms)
kill_spate b
t_kill=$(ms)
check "the survivor is assigned all 8 partitions" \
        wait_for 20 bash -c "grep 'assigned' '$TMP/spate-a.log' | tail -1 | grep -q 'assigned 8 partitions'"
t_taken=$(logged_ms "$TMP/spate-a.log" "assigned 8 partitions")
echo "# takeover after $((t_taken - t_kill)) ms"
check "within the rebalance time ($((t_taken - t_kill)) ms <= session timeout + 4 s)" \
        [ $((t_taken - t_kill)) -le $((SPATE_SESSION_TIMEOUT_MS + 4000)) ]
sleep 12
t3=$(ms)
kill -TERM "$SPATE_PID_a"; wait "$SPATE_PID_a" 2>/dev/null

cat >"$TMP/check.py" <<'PY'
import csv, sys
tmp, t1, t2, t_taken, t3 = sys.argv[1], *map(int, sys.argv[2:])
def say(c, m): print(("ok " if c else "not ok ") + m)
coords = {(round(float(r["lat"]), 4), round(float(r["lon"]), 4)): r["id"] for r in csv.DictReader(open(tmp + "/coords.csv"))}
log = []
for l in open(tmp + "/sim.log"):
    ms, inst, lat, lon, status, fault = l.split()
    log.append((int(ms), inst, coords.get((round(float(lat), 4), round(float(lon), 4)), "?"), status))
steady = [r for r in log if t1 <= r[0] < t1 + 10500]
by = {}
for ms, inst, c, st in steady:
    by.setdefault(inst, set()).add(c)
a, b = by.get("inst-a", set()), by.get("inst-b", set())
say(len(a) > 400 and len(b) > 400, "in a steady interval both instances poll (a: %d, b: %d coordinates)" % (len(a), len(b)))
say(not (a & b), "no coordinate is polled by both (%d overlap)" % len(a & b))
say(len(a | b) == 2000, "no coordinate is missed (%d of 2000)" % len(a | b))
after = {c for ms, inst, c, st in log if t_taken <= ms < t_taken + 11000 and inst == "inst-a"}
say(len(after) == 2000, "after the kill, the survivor polls all 2000 in one interval (%d)" % len(after))
polls = {}
for ms, inst, c, st in log:
    if st == "200":
        polls.setdefault(c, []).append(ms)
gaps = [y - x for t in polls.values() for x, y in zip(t, t[1:])]
say(min(gaps) >= 10000 - 300, "across both instances and the takeover no coordinate is polled sooner than every (closest %d ms)" % min(gaps))
PY
while read -r line; do case $line in ok*) ok "${line#ok }";; *) nok "${line#not ok }";; esac
done < <($PY "$TMP/check.py" "$TMP" "$t1" "$t2" "$t_taken" "$t3")
$KT consume "$BOOT" it0420.out --idle 2 >"$TMP/out.jsonl"
check "the output holds rain_next_hour for every coordinate" \
        $PY -c "import json,sys; s={json.loads(json.loads(l)['value'])['id'] for l in open(sys.argv[1]) if 'rain_next_hour' in l}; sys.exit(len(s) != 2000)" "$TMP/out.jsonl"
check "no log holds the API key" bash -c "! grep -q '$OWM_API_KEY' '$TMP'/spate-*.log"
