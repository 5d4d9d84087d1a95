#!/usr/bin/env bash
# 0440-http-poll-user.sh - what a new user of http_poll trips on (issue 21), at the default log
# level, against the simulator requiring a key and sending one negative precipitation in a fifth
# of its answers:
#   1. a wrong OWM_API_KEY is a WARN with the API's own message, the key masked, "check
#      OWM_API_KEY", once per interval; the exit summary says 0 polls ok and 0 records out, with
#      the dead letters apart;
#   2. with the right key, an answer with a negative precipitation is rejected whole: never in
#      the output, dead-lettered once with its reason, not retried; the exit summaries' counts
#      equal the topics' and the simulator's;
#   3. POLL_EVERY=60 (no unit) fails at load, showing what was read.
. "$SPATE_ROOT/tests/lib.sh"
dir=$SPATE_ROOT/tests/integration
topo=$dir/0440-http-poll-user.yaml
N=40
unset SPATE_LOG_LEVEL
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
KEY=it0440-Right-Key-5be1 BAD=it0440-Wrong-Key-77c0
bg "$SPATE_BIN" weather-sim --listen 127.0.0.1:0 --keys "$KEY" --negative-rate 0.2 --log "$TMP/sim.log" \
        --threads 2 >"$TMP/sim.url" 2>"$TMP/sim.err"
wait_for 10 test -s "$TMP/sim.url" || { nok "simulator starts"; cat "$TMP/sim.err"; exit 1; }
export OWM_URL=$(head -1 "$TMP/sim.url")
"$SPATE_BIN" gen-coords --bbox 44,0,48,5 --count $N --out "$TMP/coords.csv"
check "load-coordinates loads $N" bash -c "'$SPATE_BIN' load-coordinates '$TMP/coords.csv' --topic it0440.coords 2>&1 | grep -q 'loaded $N'"

# 1. a wrong key
OWM_API_KEY=$BAD start_spate bad "$topo"
check "a refused key is a WARN at the default level" wait_for 30 grep -q "WARN.*check OWM_API_KEY" "$TMP/spate-bad.log"
check "and again one interval later, counting the refusals in between" \
        wait_for 30 grep -q "WARN.*check OWM_API_KEY.*refused since the last warning" "$TMP/spate-bad.log"
kill -TERM "$SPATE_PID_bad"; wait "$SPATE_PID_bad"
check "spate run exits 0 on SIGTERM" [ $? -eq 0 ]
warn=$(grep -m1 "check OWM_API_KEY" "$TMP/spate-bad.log")
echo "# $warn"
check "the WARN quotes the API's message and the status" bash -c 'grep -q "HTTP 401 from .*\"Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.\"" <<<"$1"' _ "$warn"
check "with the key masked in the URL, and a hint on the variable" bash -c 'grep -q "appid=\*\*\*.*(OWM_API_KEY is set, 21 characters)" <<<"$1"' _ "$warn"
check "the key is nowhere in the log" bash -c "! grep -q '$BAD' '$TMP/spate-bad.log'"
n401=$(grep -c " 401 " "$TMP/sim.log")
nwarn=$(grep -c "check OWM_API_KEY" "$TMP/spate-bad.log")
# An interval's N polls are spread over it by phase, so the next interval's first refusal (and
# its WARN) can come before the last answers of this one: intervals begun <= ceil(n401 / N) + 1.
check "once per interval, not per answer ($nwarn WARNs for $n401 refusals)" \
        [ "$nwarn" -ge 2 -a "$nwarn" -le $(((n401 + N - 1) / N + 1)) ]
dlq_a=$($KT count "$BOOT" it-0440-dlq)
check "the exit summary: nothing out, the dead letters apart ($dlq_a in the DLQ)" \
        grep -q "summary: .*output 0 records, $dlq_a dead letters" "$TMP/spate-bad.log"
check "http_poll's summary: 0 polls ok, all failed, all refused" \
        grep -Eq "http_poll summary after .*polls: 0 ok \(one record each\), $dlq_a failed .*$dlq_a refused \(401/403\); $dlq_a dead letters" "$TMP/spate-bad.log"

# 2. the right key; a fifth of the answers hold a negative precipitation
requests_a=$(wc -l <"$TMP/sim.log")
OWM_API_KEY=$KEY start_spate good "$topo"
check "polls with the right key (event: 3 intervals of answers)" \
        wait_for 60 bash -c "[ \$(awk '\$5 == 200' '$TMP/sim.log' | wc -l) -ge $((3 * N)) ]"
check "the 10 s report explains why there are no commits, and counts outputs apart" \
        wait_for 30 grep -Eq "consumed [0-9]+, output [0-9]+, internal 0, dead letters [0-9]+, no offsets to commit \(the input is a table" "$TMP/spate-good.log"
kill -TERM "$SPATE_PID_good"; wait "$SPATE_PID_good"
check "spate run exits 0 on SIGTERM" [ $? -eq 0 ]
$KT consume "$BOOT" it0440.out --idle 2 >"$TMP/out.jsonl"
$KT consume "$BOOT" it-0440-dlq --idle 2 >"$TMP/dlq.jsonl"
tail -n +$((requests_a + 1)) "$TMP/sim.log" >"$TMP/sim-good.log"
grep -E "summary" "$TMP/spate-good.log" | sed 's/^/# /'
cat >"$TMP/check.py" <<'PY'
import csv, json, re, sys
tmp, n_dlq_a = sys.argv[1], int(sys.argv[2])
def say(cond, msg): print(("ok " if cond else "not ok ") + msg)
ids = {(round(float(r["lat"]), 4), round(float(r["lon"]), 4)): r["id"] for r in csv.DictReader(open(tmp + "/coords.csv"))}
sim = [l.split() for l in open(tmp + "/sim-good.log")]
neg_sim = {}
for ms, _, lat, lon, status, fault in sim:
    if fault == "negative":
        c = ids[(round(float(lat), 4), round(float(lon), 4))]
        neg_sim[c] = neg_sim.get(c, 0) + 1
out = [json.loads(json.loads(l)["value"]) for l in open(tmp + "/out.jsonl")]
dlq = [json.loads(l) for l in open(tmp + "/dlq.jsonl")][n_dlq_a:]
neg_out = [v["id"] for v in out if any(m["precipitation"] < 0 for m in v["minutely"])]
say(sum(neg_sim.values()) > 0 and not neg_out, "no output record holds a negative precipitation (%d answers had one; %d records do)" % (sum(neg_sim.values()), len(neg_out)))
rx = re.compile(r"^weather: coordinate \S+ \([-0-9.]+, [-0-9.]+\): HTTP 200: answer rejected: minutely\[\d+\]\.precipitation is -[0-9.]+: an intensity cannot be negative$")
reasons = [d["headers"].get("spate.error", "") for d in dlq]
say(dlq and all(rx.match(r) for r in reasons), "every dead letter says why: %s" % (reasons[0] if reasons else "none"))
# Requests in flight when spate stopped were answered (and logged) but never read: at most
# `concurrency` (4) of them.
lost = len(sim) - len(out) - len(dlq)
say(0 <= lost <= 4, "every answer became a record or a dead letter, never both, none retried (%d requests, %d records, %d dead letters, %d in flight at the stop)"
    % (len(sim), len(out), len(dlq), lost))
neg_dlq = {}
for d in dlq: neg_dlq[d["key"]] = neg_dlq.get(d["key"], 0) + 1
short = sum(neg_sim.get(c, 0) - neg_dlq.get(c, 0) for c in neg_sim)
say(all(neg_dlq[c] <= neg_sim.get(c, 0) for c in neg_dlq) and 0 <= short <= lost,
    "dead-lettered once per negative answer, per coordinate (%d dead letters, %d negative answers, %d in flight at the stop)"
    % (len(dlq), sum(neg_sim.values()), short))
say(dlq and all(json.loads(d["value"])["minutely"] for d in dlq), "the dead letter holds the answer itself")
ok_sim = sum(1 for l in sim if l[4] == "200" and l[5] == "-")
log = open(tmp + "/spate-good.log").read()
m = re.search(r"summary: .*output (\d+) records, (\d+) dead letters", log)
say(m and int(m.group(1)) == len(out) and 0 <= ok_sim - len(out) <= lost and int(m.group(2)) == len(dlq),
    "the exit summary counts what the topics hold: output %s = %d records (%d good answers), dead letters %s = %d"
    % (m and m.group(1), len(out), ok_sim, m and m.group(2), len(dlq)))
m = re.search(r"http_poll summary after [0-9.]+ s: up to \d+ coordinates; polls: (\d+) ok \(one record each\), (\d+) failed .*requests: (\d+) retried", log)
say(m and int(m.group(1)) == len(out) and int(m.group(2)) == len(dlq) and m.group(3) == "0",
    "http_poll's summary: %s polls ok (= records), %s failed (= the rejected answers), %s retried"
    % (m and m.group(1), m and m.group(2), m and m.group(3)))
PY
while read -r line; do case $line in ok*) ok "${line#ok }";; *) nok "${line#not ok }";; esac; done \
        < <($PY "$TMP/check.py" "$TMP" "$dlq_a")

# 3. a duration without a unit
out=$(POLL_EVERY=60 OWM_API_KEY=$KEY timeout 20 "$SPATE_BIN" run "$topo" 2>&1); rc=$?
echo "# $out"
check "POLL_EVERY=60 fails at load (exit $rc), showing what was read and what to write" \
        bash -c '[ "$1" -ne 0 ] && grep -q "0440-http-poll-user.yaml:13:12: http_poll node .weather.: .every.: .60. has no unit: write 60s or 1m" <<<"$2"' _ "$rc" "$out"
