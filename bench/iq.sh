#!/usr/bin/env bash
# iq.sh - interactive queries' latency under 100 concurrent clients (bench/iq_load.c, libcurl
# multi, keep-alive), in one run on the embedded broker: bench/iq.yaml holds 1-minute means of
# IQ_KEYS keys over 2 hours (30 days' retention); each key's last hour (60 rows) is asked with
# GET /state/per_minute/<key>/history?from=&to=, and its current value with
# GET /state/per_minute/<key>, first of one instance holding every partition, then of two
# (requests alternate between them: about half are forwarded to the other). Beside: the same
# HTTP server answering /metrics (a constant-size text of the same order, no state read, no
# forwarding) under the same load: the raw baseline.
#
# usage: SPATE_BIN=bin/spate SPATE_BENCH_BIN=build/bench bench/iq.sh
# env: IQ_KEYS (1000), IQ_CLIENTS (100), IQ_SECONDS (10), BENCH_PORT (bench/lib.sh)
. "$(dirname "$0")/lib.sh"
KEYS=${IQ_KEYS:-1000}
CLIENTS=${IQ_CLIENTS:-100}
SECS=${IQ_SECONDS:-10}
T0=1767225600000

start_broker --topology bench/iq.yaml || exit 1

# Keyed with the Java clients' partitioner (murmur2), as spate's producers: the query side
# computes a key's partition the same way.
$PY - "$SPATE_BOOTSTRAP" "$KEYS" "$T0" <<'PY' || exit 1
import json, sys
from confluent_kafka import Producer
boot, keys, t0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
p = Producer({"bootstrap.servers": boot, "partitioner": "murmur2_random", "linger.ms": 20})
for m in range(121):            # minute 120 closes minute 119 in every partition
    for k in range(keys):
        p.produce("bench.iq", key="s%04d" % k, value=json.dumps({"t": t0 + m * 60000 + k % 60000, "v": (k * 7 + m) % 100}))
        p.poll(0)
p.flush()
PY
echo "== $KEYS keys x 121 minutes produced"

run() {  # NAME PORT
        SPATE_STATE_DIR=$TMP/state-$1 bg "$SPATE_BIN" run bench/iq.yaml --http 127.0.0.1:$2 2>"$TMP/$1.log"
}
A=http://127.0.0.1:$((PORT + 5)) B=http://127.0.0.1:$((PORT + 6))
from=$((T0 + 60 * 60000)) to=$((T0 + 120 * 60000))
urls() {  # FILE KIND BASE...: one URL per key, the bases in turn
        local f=$1 kind=$2; shift 2
        $PY - "$f" "$kind" "$KEYS" "$from" "$to" "$@" <<'PY'
import sys
f, kind, keys, frm, to, bases = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6:]
with open(f, "w") as out:
    for k in range(keys):
        b = bases[k % len(bases)]
        out.write("%s/state/per_minute/s%04d%s\n" % (b, k, "/history?from=%s&to=%s" % (frm, to) if kind == "history" else ""))
PY
}
# Every key's history complete (60 rows) from every base: the state is restored and checkpointed.
ready() {
        $PY - "$KEYS" "$from" "$to" "$@" <<'PY'
import json, sys, urllib.request
keys, frm, to, bases = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
for b in bases:
    for k in range(0, keys, max(1, keys // 50)):
        try:
            r = json.load(urllib.request.urlopen("%s/state/per_minute/s%04d/history?from=%s&to=%s" % (b, k, frm, to), timeout=5))
        except Exception:
            sys.exit(1)
        if len(r["rows"]) != 60:
            sys.exit(1)
PY
}
wait_ready() { for _ in $(seq 600); do ready "$@" && return 0; sleep 0.5; done; echo "state not queryable"; exit 1; }
load() {  # ID LABEL URLS_FILE
        local r
        r=$("$SPATE_BENCH_BIN/iq_load" "$3" "$CLIENTS" "$SECS") || { echo "$2: $r (errors)"; exit 1; }
        echo "$2: $r"
        echo "$r" >"$TMP/$1.result"
}

run a $((PORT + 5))
wait_ready "$A"
echo "http://127.0.0.1:$((PORT + 5))/metrics" >"$TMP/metrics.urls"
echo "== $CLIENTS clients, $SECS s each; one instance"
load base1 "baseline /metrics (one instance)" "$TMP/metrics.urls"
urls "$TMP/h1.urls" history "$A"; load history1 "history, 60 rows (one instance)" "$TMP/h1.urls"
urls "$TMP/g1.urls" get "$A"; load get1 "current value (one instance)" "$TMP/g1.urls"

run b $((PORT + 6))
for _ in $(seq 300); do grep -q "assigned" "$TMP/b.log" && break; sleep 0.2; done
wait_ready "$A" "$B"
echo "== two instances, requests alternating between them"
echo "http://127.0.0.1:$((PORT + 6))/metrics" >>"$TMP/metrics.urls"
load base2 "baseline /metrics (two instances)" "$TMP/metrics.urls"
urls "$TMP/h2.urls" history "$A" "$B"; load history2 "history, 60 rows (two instances)" "$TMP/h2.urls"
urls "$TMP/g2.urls" get "$A" "$B"; load get2 "current value (two instances)" "$TMP/g2.urls"
$PY - "$TMP" <<'PY'
import glob, os, re, sys
r = {}
for f in glob.glob(os.path.join(sys.argv[1], "*.result")):
    m = re.search(r"([\d.]+) requests/s, p50 ([\d.]+) ms, p99 ([\d.]+) ms", open(f).read())
    r[os.path.basename(f)[:-7]] = tuple(float(x) for x in m.groups())
for i, n in ((1, "one instance"), (2, "two instances")):
    b = r["base%d" % i]
    for q, what in (("history", "history, 60 rows"), ("get", "current value")):
        x = r["%s%d" % (q, i)]
        print("RESULT iq %s, %s: p50 %.2f ms, p99 %.2f ms, %.0f requests/s; /metrics baseline p50 %.2f ms, p99 %.2f ms, %.0f requests/s (p50 %.1fx)"
              % (what, n, x[1], x[2], x[0], b[1], b[2], b[0], x[1] / b[1] if b[1] else 0))
PY
