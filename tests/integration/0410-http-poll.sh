#!/usr/bin/env bash
# 0410-http-poll.sh - `http_poll` against `spate weather-sim` with injected faults: 5,000
# coordinates loaded with `spate load-coordinates`, polled every 15 s for ~2 intervals. Checks
# from the simulator's request log, its /stats and the output and DLQ topics: every coordinate
# gets a forecast each interval, at its own phase and once per slot, the rate limit
# holds, bad bodies are dead-lettered with reasons, and the API key appears nowhere. A second
# application polls a simulator whose limit is below its own (429 + Retry-After).
. "$SPATE_ROOT/tests/lib.sh"
dir=$SPATE_ROOT/tests/integration
start_broker --topology "$dir/0410-http-poll.yaml" --topology "$dir/0410-http-poll-429.yaml" ||
        { nok "broker starts"; exit 1; }
export OWM_API_KEY=it0410-Secret-Key-7f3a9c
EVERY=15

start_sim() {  # NAME ARGS...: sets SIM_<NAME> to its URL
        local name=$1; shift
        bg "$SPATE_BIN" weather-sim --listen 127.0.0.1:0 --keys "$OWM_API_KEY" --log "$TMP/$name.log" \
                --threads 2 "$@" >"$TMP/$name.url" 2>"$TMP/$name.err"
        wait_for 10 test -s "$TMP/$name.url" || { echo "# sim $name did not start"; cat "$TMP/$name.err"; return 1; }
        printf -v "SIM_$name" '%s' "$(head -1 "$TMP/$name.url")"
}
start_sim a --rate-limit 30000/min --error-rate 0.02 --malformed-rate 0.01 --truncate-rate 0.01 \
        --timeout-rate 0.005 --timeout-ms 4000 || { nok "simulator starts"; exit 1; }
start_sim b --rate-limit 120/min || { nok "second simulator starts"; exit 1; }
ok "two simulators on $SIM_a and $SIM_b"

"$SPATE_BIN" gen-coords --bbox 41.3,-5.2,51.1,9.6 --count 5000 --out "$TMP/coords.csv"
out=$("$SPATE_BIN" load-coordinates "$TMP/coords.csv" --topic it0410.coords 2>&1)
check "load-coordinates reports 5000 ($out)" grep -q "loaded 5000 coordinates" <<<"$out"
"$SPATE_BIN" gen-coords --bbox 50,4,51,5 --count 40 --prefix q --out "$TMP/coords429.csv"
"$SPATE_BIN" load-coordinates "$TMP/coords429.csv" --topic it0410.coords429 >/dev/null 2>&1
printf 'id,name,country,lat,lon\nx1,"Saint-Denis, ""93""",FR,48.9362,2.3574\nx2,bad,FR,north,2\nx3,far,FR,95,2\n' >"$TMP/odd.csv"
out=$("$SPATE_BIN" load-coordinates "$TMP/odd.csv" --topic it0410.scratch 2>&1)
check "a quoted name loads; bad rows are reported with their line and counted" \
        bash -c 'grep -q "odd.csv:3: lat is not a number" <<<"$1" && grep -q "odd.csv:4: lat is not a number" <<<"$1" &&
                 grep -q "loaded 1 coordinates into it0410.scratch (2 bad rows skipped)" <<<"$1"' _ "$out"

export SPATE_LOG_LEVEL=debug
OWM_URL=$SIM_a POLL_EVERY=${EVERY}s start_spate a "$dir/0410-http-poll.yaml"
http_b=$(free_port 1)
OWM_URL=$SIM_b POLL_EVERY=10s POLL_RATE=600/min SPATE_HTTP=127.0.0.1:$http_b start_spate b "$dir/0410-http-poll-429.yaml"
check "the poller is assigned the table's partitions" wait_for 30 grep -q "assigned 8 partitions" "$TMP/spate-a.log"
t_assigned=$($PY -c 'import time; print(int(time.time() * 1000))')
sleep $((2 * EVERY + 10))
# The 429 poller's /metrics, between two reads of the simulator's counts (a response is counted by
# the simulator first, by spate once it arrived; at most `concurrency` are in flight).
curl -s "$SIM_b/stats" >"$TMP/stats-b0.json"
curl -s "http://127.0.0.1:$http_b/metrics" >"$TMP/metrics-b.txt"
curl -s "$SIM_b/stats" >"$TMP/stats-b1.json"
kill -TERM "$SPATE_PID_a" "$SPATE_PID_b"
wait "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null
curl -s "$SIM_a/stats" >"$TMP/stats-a.json"
curl -s "$SIM_b/stats" >"$TMP/stats-b.json"
$KT consume "$BOOT" it0410.out --idle 2 >"$TMP/out.jsonl"
$KT consume "$BOOT" it-0410-dlq --idle 2 >"$TMP/dlq.jsonl"
echo "# $(wc -l <"$TMP/a.log") requests, $(wc -l <"$TMP/out.jsonl") records, $(wc -l <"$TMP/dlq.jsonl") dead letters"

# tap PYTHON-ARGS...: runs a Python check printing "ok ..."/"not ok ..." lines, numbered here.
tap() { while read -r line; do case $line in ok*) ok "${line#ok }";; *) nok "${line#not ok }";; esac; done < <("$@"); }
cat >"$TMP/check.py" <<'PY'
import csv, json, os, sys
tmp, every, t_assigned = sys.argv[1], int(sys.argv[2]) * 1000, int(sys.argv[3])
def say(cond, msg): print(("ok " if cond else "not ok ") + msg)
coords = {}
for r in csv.DictReader(open(tmp + "/coords.csv")):
    coords[(round(float(r["lat"]), 4), round(float(r["lon"]), 4))] = r["id"]
ok_polls, statuses = {}, {}
last_ms = 0
for l in open(tmp + "/a.log"):
    ms, inst, lat, lon, status, fault = l.split()
    key = (round(float(lat), 4), round(float(lon), 4))
    statuses[(status, fault)] = statuses.get((status, fault), 0) + 1
    last_ms = max(last_ms, int(ms))
    if status == "200" and fault == "-":
        ok_polls.setdefault(coords.get(key, "?"), []).append(int(ms))
say("?" not in ok_polls, "every request is for a loaded coordinate")
few = [c for c in coords.values() if len(ok_polls.get(c, [])) < 2]
say(not few, "every one of the 5000 coordinates got a forecast in each of 2 intervals (%d did not, e.g. %s)" % (len(few), few[:3]))
sys.path.insert(0, os.environ["SPATE_ROOT"] + "/tests/ref")
import poll_phase
def phase(cid): return poll_phase.phase(cid, every)
twice = [c for c, t in ok_polls.items() if len({(x - phase(c)) // every for x in t}) < len(t)]
say(not twice, "never two successful polls of a coordinate in one of its slots (phase + k*every): %d coordinates (e.g. %s)" % (len(twice), twice[:3]))
late = sorted((x - phase(c)) % every for c, t in ok_polls.items() for x in t)
say(late[len(late) * 9 // 10] < 1000, "9 in 10 successful polls start within 1 s of their slot (90th percentile %d ms, median %d ms)" % (late[len(late) * 9 // 10], late[len(late) // 2]))
gaps = [b - a for t in ok_polls.values() for a, b in zip(t, t[1:])]
say(gaps and min(gaps) >= every // 2 - 300, "successful polls of one coordinate are never closer than every/2 (closest %d ms)" % min(gaps))
say(gaps and max(gaps) < 2 * every, "and no interval is skipped (widest gap %d ms)" % max(gaps))
firsts = sorted(t[0] - t_assigned for t in ok_polls.values())
per_sec = [0] * (every // 1000 + 5)
for f in firsts:
    if 0 <= f // 1000 < len(per_sec): per_sec[f // 1000] += 1
busiest = max(per_sec)
say(busiest < 3 * 5000 * 1000 / every, "first polls are spread over the interval, not a burst (busiest second %d, mean %d)" % (busiest, 5000 * 1000 // every))
st = json.load(open(tmp + "/stats-a.json"))
say(st["max_requests_in_any_60s_window_per_key"] <= 27000, "rate_limit 27000/min held: max %d requests in any 60 s window" % st["max_requests_in_any_60s_window_per_key"])
say(st["max_admitted_in_any_60s_window_per_key"] <= 30000 and "429" not in st["by_status"], "the simulator's limit was never exceeded (max admitted %d, no 429)" % st["max_admitted_in_any_60s_window_per_key"])
f = st["faults"]
say(f["error"] > 0 and f["malformed"] > 0 and f["truncate"] > 0 and f["timeout"] > 0, "faults were injected: %s" % f)
# output topic
recs = [json.loads(l) for l in open(tmp + "/out.jsonl")]
ids, bad = set(), 0
for r in recs:
    v = json.loads(r["value"])
    good = (r["key"] == v["id"] and {"id", "name", "lat", "lon", "fetched_at", "minutely", "current"} <= v.keys()
            and len(v["minutely"]) == 61 and all("precipitation" in m and "dt" in m for m in v["minutely"])
            and coords.get((round(v["lat"], 4), round(v["lon"], 4))) == v["id"] and "temp" in v["current"]
            and r["value"].count('"lat"') == 1)
    bad += not good
    ids.add(v["id"])
say(bad == 0, "every output record has id (= key), name, lat, lon (the table's, once), fetched_at, 61 minutely, current (%d bad of %d)" % (bad, len(recs)))
say(len(ids) == 5000, "the output holds forecasts for all 5000 coordinates (%d)" % len(ids))
n_ok = statuses.get(("200", "-"), 0)
say(len(recs) >= n_ok - 16, "one record per successful poll (%d records, %d successful polls)" % (len(recs), n_ok))
# DLQ
dl = [json.loads(l) for l in open(tmp + "/dlq.jsonl")]
reasons = [d["headers"].get("spate.error", "") for d in dl]
body = sum("HTTP 200: not a One Call answer" in r for r in reasons)
trunc = sum("truncated body" in r for r in reasons)
say(all(r.startswith("weather: coordinate ") and "HTTP" in r for r in reasons), "every dead letter names the coordinate and the HTTP status")
say(body >= 0.8 * f["malformed"] and body > 0, "malformed bodies are dead-lettered (%d for %d injected): %s" % (body, f["malformed"], reasons[0] if reasons else ""))
say(trunc > 0, "truncated bodies are dead-lettered (%d for %d injected)" % (trunc, f["truncate"]))
say(all(d["key"] in ids and d["headers"].get("spate.topic") == "it0410.coords" for d in dl), "dead letters are keyed by coordinate id with the table as spate.topic")
PY
tap $PY "$TMP/check.py" "$TMP" "$EVERY" "$t_assigned"

cat >"$TMP/check429.py" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
n429 = st["by_status"].get("429", 0)
print(("ok " if n429 > 0 else "not ok ") + "a simulator limited to 120/min answers 429 to a poller configured for 600/min (%d 429s of %d)" % (n429, st["requests"]))
print(("ok " if n429 < 0.35 * st["requests"] else "not ok ") + "Retry-After is honoured and the bucket slows: 429s stay a minority (%d of %d requests)" % (n429, st["requests"]))
PY
tap $PY "$TMP/check429.py" "$TMP/stats-b.json"
cat >"$TMP/metrics429.py" <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
before, after = (json.load(open(f))["by_status"] for f in sys.argv[2:4])
def value(fam, **labels):
    return sum(s.value for s in fams[fam].samples if all(s.labels.get(k) == v for k, v in labels.items()))
def say(cond, msg): print(("ok " if cond else "not ok ") + msg)
for status in ("200", "429"):
    got = value("spate_http_poll_requests", node="weather", status=status)
    say(before.get(status, 0) - 16 <= got <= after.get(status, 0),
        "/metrics counts the HTTP %s answers the simulator sent: %d (simulator %d..%d)" % (status, got, before.get(status, 0), after.get(status, 0)))
say(value("spate_http_poll_rate_limit_waits") > 0, "rate-limit waits are counted (%d)" % value("spate_http_poll_rate_limit_waits"))
say(value("spate_http_poll_coordinates", node="weather") == 40, "the poller reports its 40 coordinates")
rate = value("spate_http_poll_rate_limit_per_minute", node="weather")
say(0 < rate <= 600, "the budget's rate is this instance's share of 600/min, slowed after 429s (%.0f/min)" % rate)
PY
$PY -c 'import prometheus_client' 2>/dev/null && tap $PY "$TMP/metrics429.py" "$TMP/metrics-b.txt" "$TMP/stats-b0.json" "$TMP/stats-b1.json" ||
        skip "/metrics of the poller" "python3-prometheus-client not installed (make deps)"
check "spate logs the 429 pauses" grep -q "HTTP 429 for .*appid=\*\*\*" "$TMP/spate-b.log"
check "spate's logs never contain the API key" bash -c "! grep -q '$OWM_API_KEY' '$TMP'/spate-*.log"
check "the output topic never contains the API key" bash -c "! grep -q '$OWM_API_KEY' '$TMP/out.jsonl'"
check "the DLQ never contains the API key" bash -c "! grep -q '$OWM_API_KEY' '$TMP/dlq.jsonl'"
check "the simulator's log never contains the API key" bash -c "! grep -q '$OWM_API_KEY' '$TMP/a.log' '$TMP/b.log'"
