#!/usr/bin/env bash
# 0210-two-instances.sh - scale-out: a second `spate run` with the same
# application joins the group and takes half of the partitions; killing it
# (SIGKILL) hands them back. At-least-once: every input record reaches the
# output, duplicates allowed only after the kill.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0210-two-instances.yaml
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }

produce_range() {  # from to
        seq "$1" "$2" | awk '{printf "k%d\t{\"n\":%d}\n", $1 % 997, $1}' >"$TMP/in-$1.tsv"
        $KT produce "$BOOT" it0210.in "$TMP/in-$1.tsv"
}

start_spate a "$topo"
produce_range 1 20000
check "instance a alone processes the first 20000" wait_count 60 it0210.out 20000
start_spate b "$topo"
check "instance b joins and is assigned partitions" wait_for 30 grep -q "assigned [1-9]" "$TMP/spate-b.log"
sleep 1
na=$(grep -c "assigned" "$TMP/spate-a.log")
check "instance a is rebalanced too (assigned $na times)" [ "$na" -ge 2 ]
pb=$(grep "assigned" "$TMP/spate-b.log" | tail -1 | sed -E 's/.*assigned ([0-9]+) partitions.*/\1/')
check "b holds half of the 8 partitions (holds $pb)" [ "$pb" -eq 4 ]
produce_range 20001 40000
check "both instances process the next 20000" wait_count 60 it0210.out 40000
kill -KILL "$SPATE_PID_b"
produce_range 40001 60000
check "after b is killed, a takes its partitions back" wait_for 30 bash -c "grep 'assigned' '$TMP/spate-a.log' | tail -1 | grep -q 'assigned 8 partitions'"
check "all 60000 records reach the output after the kill" wait_count 90 it0210.out 60000
$KT consume "$BOOT" it0210.out --idle 2 >"$TMP/out.jsonl"
$PY - "$TMP/out.jsonl" <<'PY' | while read -r line; do case $line in ok*) ok "${line#ok }";; *) nok "${line#not ok }";; esac; done
import json, sys
seen = {}
for l in open(sys.argv[1]):
    r = json.loads(l); v = json.loads(r["value"])
    assert v["double"] == 2 * v["n"], v
    seen[v["n"]] = seen.get(v["n"], 0) + 1
missing = [n for n in range(1, 60001) if n not in seen]
dups = sum(c - 1 for c in seen.values())
print(("ok" if not missing else "not ok") + " every one of the 60000 inputs is in the output (missing %d)" % len(missing))
print("ok every output is computed (double = 2n); %d duplicates, replayed after the SIGKILL (at-least-once)" % dups)
PY
