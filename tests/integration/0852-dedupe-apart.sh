#!/usr/bin/env bash
# 0852-dedupe-apart.sh - `dedupe` (0850's topology and reference, tests/ref/dedupe_ref.py) whose
# input partitions start apart, in wall-clock and in event time: partition 1's event times are 3
# hours behind partition 0's, partition 2's an hour ahead, partition 3's 2 hours behind, and each
# partition is produced only once the job committed the one before. Its state (one engine-owned
# store per task, with the task's own stream time) must decide each repeat by its own partition's
# stream time alone, whatever the other tasks' times, commits and restores. Two instances, a
# cache of 1 MB per node (entries of every task evicted and read back), and two SIGKILLs:
#   1. the instance holding partition 1, as soon as partition 1's second quarter is produced
#      (records in flight), restarted without its state directory (restore from the changelog);
#   2. the instance holding partition 2, likewise, restarted with its state.
# The output must hold every id exactly as the reference passes it, its first record, never a
# later copy; nothing is dead-lettered.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0850-dedupe-crash.yaml
REF=$SPATE_ROOT/tests/ref
N=${N_0852:-40000}
ulimit -c 0
t0=$SECONDS
export STATE_MB_0850=1

$PY "$REF/dedupe_ref.py" gen "$N" 4 10000 "$TMP/gen.tsv" "$TMP/expected.json"
# The partitions' event times apart: a shift per partition changes no decision of the reference
# (each partition's rule only compares times of that partition).
$PY - "$TMP/gen.tsv" "$TMP" <<'PY'
import json, sys
H = 3600 * 1000
shift = {0: 0, 1: -3 * H, 2: H, 3: -2 * H}
files = {p: open("%s/in.p%d" % (sys.argv[2], p), "w") for p in shift}
for line in open(sys.argv[1]):
    p, key, js = line.rstrip("\n").split("\t", 2)
    rec = json.loads(js)
    rec["t"] += shift[int(p)]
    files[int(p)].write("%s\t%s\t%s\n" % (p, key, json.dumps(rec, separators=(",", ":"))))
PY
for p in 0 1 2 3; do split -n l/4 -d "$TMP/in.p$p" "$TMP/in.p$p."; done
start_broker --topology "$topo" --topic it0850.in:4 --topic it-0850-dd-seen-changelog:4 \
        --topic it0850.out:2 --topic it-0850-dlq:1 || { nok "broker starts"; exit 1; }

start() {  # NAME: one instance with its own state directory; START_NAME: its log's length then
        touch "$TMP/spate-$1.log"
        eval "START_$1=$(wc -l <"$TMP/spate-$1.log")"
        SPATE_STATE_DIR="$TMP/state-$1" start_spate "$1" "$topo"
}
produce() { $KT produce "$BOOT" it0850.in "$TMP/$1" --partitioned >/dev/null 2>&1 || nok "produce $1"; }
# consumed P [N]: the group committed partition P's offsets up to N (default: all its records)
consumed() {
        local want=${2:-$(wc -l <"$TMP/in.p$1")}
        $KT committed "$BOOT" it-0850 it0850.in 2>/dev/null | awk -v p="$1" -v w="$want" '$1 == p && $2 >= w { f = 1 } END { exit !f }'
}
# holder P: the instance whose latest assignment (since it started last) holds partition P
holder() {
        local n
        for n in a b; do
                tail -n +$(($(eval "echo \$START_$n") + 1)) "$TMP/spate-$n.log" | grep "assigned" | tail -1 |
                        grep -q "it0850.in\[$1\]" && { echo "$n"; return 0; }
        done
        return 1
}
# balanced: each input partition held, by both instances between them (so that a kill
# interrupts the one processing a partition and moves its tasks to the other)
balanced() {
        local p h=""
        for p in 0 1 2 3; do h+=$(holder "$p" || echo -); done
        [[ $h == *a* && $h == *b* && $h != *-* ]]
}
# restored P: since the last kill, an instance restored partition P's store from the changelog
restored() {
        { tail -n +$((KILL_a + 1)) "$TMP/spate-a.log"; tail -n +$((KILL_b + 1)) "$TMP/spate-b.log"; } |
                grep -q "store 'seen' of 'dd' partition $1 restored: [1-9][0-9]* changelog records applied"
}
start a
start b
check "both instances hold input partitions" wait_for 60 balanced
produce in.p0
check "partition 0 alone (event times T), consumed and committed" wait_for 30 consumed 0
# kill_holder P: produces P's first quarter and waits until it is committed (in the changelog),
# then its second, and SIGKILLs the instance holding P at once (records in flight)
kill_holder() {
        local v
        produce "in.p$1.00"
        wait_for 30 consumed "$1" "$(wc -l <"$TMP/in.p$1.00")" || nok "partition $1's first quarter committed"
        produce "in.p$1.01"
        v=$(holder "$1")
        KILL_a=$(wc -l <"$TMP/spate-a.log") KILL_b=$(wc -l <"$TMP/spate-b.log")
        kill_spate "$v"
        echo "# $((SECONDS - t0)) s: killed $v (holding partition $1) with SIGKILL, $( $KT committed "$BOOT" it-0850 it0850.in |
                awk -v p="$1" '$1 == p { print $2 }') of its $(wc -l <"$TMP/in.p$1") records committed"
        victim=$v
}
kill_holder 1
rm -rf "$TMP/state-$victim"
start "$victim"
check "partition 1's store restored from the changelog ($victim restarted without its state directory)" \
        wait_for 60 restored 1
produce in.p1.02
produce in.p1.03
check "partition 1 (event times T - 3 h), consumed and committed" wait_for 30 consumed 1
check "both instances hold input partitions again" wait_for 60 balanced
kill_holder 2
start "$victim"
produce in.p2.02
produce in.p2.03
check "partition 2 (T + 1 h), consumed and committed after a restart with the state" wait_for 60 consumed 2
produce in.p3
check "partition 3 (T - 2 h), consumed and committed" wait_for 30 consumed 3
check "the output equals the reference within 30 s" wait_for 30 dedupe_exact it0850.out
dedupe_report ""
dl=$($KT count "$BOOT" it-0850-dlq)
check "repeats are dropped, not dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
check_sigterm a b
grep -h "dedupe 'dd':" "$TMP"/spate-*.log | sed 's/.*INFO  [a-z]*: /# /'
echo "# took $((SECONDS - t0)) s"
