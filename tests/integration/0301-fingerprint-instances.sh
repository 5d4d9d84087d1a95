#!/usr/bin/env bash
# 0301-fingerprint-instances.sh - two instances of one topology file that differ only in a
# per-instance ${VAR} (an MQTT client_id) share the application: the second is not taken for
# a different topology (the fingerprint hashes values as written), both get partitions, and
# every record comes out once. 0350 checks that a really different topology still fails.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0301-fingerprint-instances.yaml
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
start_mosquitto || { nok "mosquitto starts"; exit 1; }
gen_id_v "$TMP/a.tsv" 0 500
gen_id_v "$TMP/b.tsv" 500 500
check "produce 500 records" $KT produce "$BOOT" it0301.raw "$TMP/a.tsv"
INST=host-a STATE_DIR=$TMP/state-a start_spate a "$topo"
check "instance a processes them" wait_count 60 it0301.out 500
# b's join must find them committed (with a's fingerprint): on this broker a commit during the
# rebalance it starts can be refused, and at_least_once then replays what was not committed.
check "and commits them with its fingerprint" wait_committed 60 it-0301 it0301.raw 500
INST=host-b STATE_DIR=$TMP/state-b start_spate b "$topo"
check "instance b, client_id it-0301-host-b, gets partitions" \
        wait_for 60 grep -qs "assigned [1-3] partitions" "$TMP/spate-b.log"
check "produce 500 more" $KT produce "$BOOT" it0301.raw "$TMP/b.tsv"
check "the two process them" wait_count 60 it0301.out 1000
check "a gave b some of its partitions" wait_for 30 bash -c \
        "grep -q 'assigned [1-3] partitions' '$TMP/spate-a.log'"
check "instance a runs" kill -0 "$SPATE_PID_a"
check "instance b runs" kill -0 "$SPATE_PID_b"
check "neither took the other for a different topology" bash -c \
        "! grep -h 'different topology' '$TMP/spate-a.log' '$TMP/spate-b.log'"
$KT consume "$BOOT" it0301.out --idle 2 >"$TMP/out.jsonl"
$KT consume "$BOOT" it0301.raw --idle 1 >"$TMP/raw.jsonl"
$PY - "$TMP/out.jsonl" "$TMP/raw.jsonl" <<'PY'
import collections, json, sys
out = [json.loads(json.loads(l)["value"]) for l in open(sys.argv[1])]
ids = sorted(o["id"] for o in out)
ok = ids == list(range(1000)) and all(o["twice"] == 2 * o["id"] for o in out)
print("# %d records, %d distinct ids" % (len(ids), len(set(ids))))
if not ok:  # where repeats come from: the input topic, or the job (which partitions)
    raw = collections.Counter(json.loads(json.loads(l)["value"])["id"] for l in open(sys.argv[2]))
    rep = collections.Counter()
    for l in open(sys.argv[1]):
        m = json.loads(l)
        rep[(m["partition"], json.loads(m["value"])["id"])] += 1
    twice = sorted(k for k, n in rep.items() if n > 1)
    print("# input: %d records, %d distinct; repeated outputs by partition: %s; ids %s..%s" % (
        sum(raw.values()), len(raw), dict(collections.Counter(p for p, _ in twice)),
        twice[0][1] if twice else "-", twice[-1][1] if twice else "-"))
sys.exit(0 if ok else 1)
PY
once=$?
check "every record once, v * 2" [ "$once" -eq 0 ]
[ "$once" -eq 0 ] || grep -hE "assigned|revoked|WARN|ERROR" "$TMP/spate-a.log" "$TMP/spate-b.log" | sed "s/^/# /"
