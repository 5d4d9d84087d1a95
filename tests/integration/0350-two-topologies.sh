#!/usr/bin/env bash
# 0350-two-topologies.sh - a second, different topology started with the same
# `application` fails clearly (it would take half the partitions) while the
# first runs on; started after the first stopped (an edited topology), it runs;
# started together with the first, it stops within seconds.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0350-two-topologies.yaml
sed 's/twice: v \* 2/twice: v * 3/' "$topo" >"$TMP/other.yaml"
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
gen_id_v "$TMP/a.tsv" 0 1000
check "produce 1000 records" $KT produce "$BOOT" it0350.in "$TMP/a.tsv"
STATE_DIR=$TMP/state-a start_spate a "$topo"
check "the first topology processes them" wait_count 60 it0350.out 1000
# The check at assignment reads the first one's commits: its output alone is not
# enough (on a busy machine the commit comes later, and a topology started before
# any commit is caught only by the running check, below).
check "and commits them" wait_committed 60 it-0350 it0350.in 1000
STATE_DIR=$TMP/state-b "$SPATE_BIN" run "$TMP/other.yaml" 2>"$TMP/spate-b.log" &
pid_b=$!; _pids+=($pid_b)
check "the other topology stops by itself within 60 s" wait_for 60 bash -c "! kill -0 $pid_b 2>/dev/null"
kill -0 "$pid_b" 2>/dev/null && kill -TERM "$pid_b"   # still running: the check failed
wait "$pid_b"; rc=$?
check "with exit 1 (rc $rc)" [ "$rc" -eq 1 ]
check "and says why" grep -q "another instance of application 'it-0350', started .*, runs a different topology" "$TMP/spate-b.log"
gen_id_v "$TMP/b.tsv" 1000 1000
check "produce 1000 more" $KT produce "$BOOT" it0350.in "$TMP/b.tsv"
check "the first topology processes them too" wait_count 60 it0350.out 2000
check "the first is still running" kill -0 "$SPATE_PID_a"
# A stop in the middle of a rebalance cannot commit (the embedded broker refuses
# commits then), so its last commit would not say it left: stop it once it owns
# every partition again.
check "the first owns every partition again" wait_for 30 bash -c \
        "[ \$(grep -c 'assigned 4 partitions' '$TMP/spate-a.log') -ge 2 ]"
kill -TERM "$SPATE_PID_a"; wait "$SPATE_PID_a"; rc=$?
check "and exits 0 on SIGTERM (rc $rc)" [ "$rc" -eq 0 ]
$KT consume "$BOOT" it0350.out --idle 2 >"$TMP/out-a.jsonl"
by() {  # file, factor: distinct ids whose output is v * factor (and not v * the other)
        $PY -c '
import json, sys
f = int(sys.argv[2])
ids = set()
for l in open(sys.argv[1]):
    v = json.loads(json.loads(l)["value"])
    if v["twice"] == f * v["id"] and v["id"]:
        ids.add(v["id"])
print(len(ids))' "$@"
}
n2=$(by "$TMP/out-a.jsonl" 2); n3=$(by "$TMP/out-a.jsonl" 3)
check "every record 1..1999 has the first topology's output (v * 2): $n2" [ "$n2" = 1999 ]
check "none has the other's (v * 3): $n3" [ "$n3" = 0 ]

# An edited topology after the old one stopped: a new run, not a conflict.
gen_id_v "$TMP/c.tsv" 2000 500
check "produce 500 more" $KT produce "$BOOT" it0350.in "$TMP/c.tsv"
STATE_DIR=$TMP/state-b "$SPATE_BIN" run "$TMP/other.yaml" --until-idle 3s 2>"$TMP/spate-c.log"; rc=$?
check "the edited topology runs once the old one stopped (rc $rc)" [ "$rc" -eq 0 ]
$KT consume "$BOOT" it0350.out --idle 2 >"$TMP/out-c.jsonl"
n3=$(by "$TMP/out-c.jsonl" 3)
check "it processed the 500 new records (v * 3): $n3" [ "$n3" = 500 ]

# Started together (no earlier commit to see at assignment): the running
# check of the group's commits stops the newer one within seconds.
STATE_DIR=$TMP/state-a start_spate d "$topo"
sleep 0.5
STATE_DIR=$TMP/state-e "$SPATE_BIN" run "$TMP/other.yaml" 2>"$TMP/spate-e.log" &
pid_e=$!; _pids+=($pid_e)
gen_id_v "$TMP/d.tsv" 2500 500
check "produce 500 more while both start" $KT produce "$BOOT" it0350.in "$TMP/d.tsv"
check "started together, the newer topology stops within 60 s" wait_for 60 bash -c "! kill -0 $pid_e 2>/dev/null"
kill -0 "$pid_e" 2>/dev/null && kill -TERM "$pid_e"
wait "$pid_e"; rc=$?
check "with exit 1 (rc $rc)" [ "$rc" -eq 1 ]
check "and says why" grep -q "runs a different topology" "$TMP/spate-e.log"
check "the older one runs on" kill -0 "$SPATE_PID_d"
