#!/usr/bin/env bash
# 0853-join-reemit-apart.sh - the left join with `retention:` of 0780 (topology, data and
# reference: tests/ref/join_reemit_ref.py) with input partitions that start apart: partition 0
# from the first part of the readings on, partitions 1, 2 and 3 only at parts 1, 3 and 4 (their
# earlier readings then come as a backlog, joined with a table that went on meanwhile), each
# partition produced once the job committed the one before; and apart in event time: partition
# 1 3 hours behind partition 0, partition 2 2 hours ahead, partition 3 5 hours behind, with a
# retention of 1 hour (the readings of one partition span 50 minutes). The join remembers a
# record within retention of its own task's stream time: a task whose time came from another
# partition would forget records whose rows arrive later, and their last message would be wrong.
# Two instances, two SIGKILLs at the moments a late partition's backlog is in flight (once with
# the state directory deleted). Every message must join a version of its reading with a version
# of its row, the last one of each reading its last version joined with the table as it ends.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref/join_reemit_ref.py
SEED=${SEED_0853:-$RANDOM}
echo "# seed $SEED (SEED_0853=$SEED repeats the data)"
ulimit -c 0
t0=$SECONDS
topo=$TMP/topo.yaml
sed 's/retention: 1d/retention: 1h/' "$SPATE_ROOT/tests/integration/0780-join-reemit.yaml" >"$topo"
grep -q "retention: 1h" "$topo" || nok "the topology takes retention: 1h"
mkdir -p "$TMP/gen"
$PY "$REF" gen "$SEED" "$TMP/gen"
# The partitions apart in event time (the reference reads the shifted files), and per stage k
# the lines each partition gets: a partition starting at stage k gets parts 0..k then.
$PY - "$TMP/gen" <<'PY'
import json, sys
d, H = sys.argv[1], 3600 * 1000
shift, start = {0: 0, 1: -3 * H, 2: 2 * H, 3: -5 * H}, {0: 0, 1: 1, 2: 3, 3: 4}
parts = []
for k in range(6):
    path = "%s/stream-%d.tsv" % (d, k)
    lines = []
    for line in open(path):
        p, key, js = line.rstrip("\n").split("\t", 2)
        rec = json.loads(js)
        rec["t"] += shift[int(p)]
        lines.append((int(p), "%s\t%s\t%s\n" % (p, key, json.dumps(rec))))
    with open(path, "w") as f:
        f.writelines(l for _, l in lines)
    parts.append(lines)
for k in range(6):
    for p in range(4):
        with open("%s/stage-%d.p%d" % (d, k, p), "w") as f:
            if k >= start[p]:
                for j in range(0 if k == start[p] else k, k + 1):
                    f.writelines(l for q, l in parts[j] if q == p)
PY
start_broker --topology "$topo" --topic it0780.in:4 --topic it0780.st:1 --topic it-0780-look-lookups-changelog:4 \
        --topic it0780.out:2 --topic it-0780-dlq:1 || { nok "broker starts"; exit 1; }
start() { SPATE_STATE_DIR="$TMP/state-$1" start_spate "$1" "$topo"; }  # NAME: its own state directory
out() { $KT consume "$BOOT" it0780.out --idle 0.5 >"$TMP/out.jsonl"; }
exact() { out && $PY "$REF" compare "$TMP/gen" "$TMP/out.jsonl" -q; }
produce() { $KT produce "$BOOT" "$@" >/dev/null 2>&1 || nok "produce $*"; }
# consumed P K: the group committed partition P's records of stages 0..K
consumed() {
        local want
        want=$(cat "$TMP"/gen/stage-[0-"$2"].p"$1" | wc -l)
        $KT committed "$BOOT" it-0780 it0780.in 2>/dev/null | awk -v p="$1" -v w="$want" '$1 == p && $2 >= w { f = 1 } END { exit !f }'
}

produce it0780.st "$TMP/gen/table-0.tsv" --empty-is-null
start a
start b
for k in 0 1 2 3 4 5; do
        for p in 0 1 2 3; do
                [ -s "$TMP/gen/stage-$k.p$p" ] || continue
                produce it0780.in "$TMP/gen/stage-$k.p$p" --partitioned
                case $k$p in
                11) kill_spate a; echo "# $((SECONDS - t0)) s: killed a with SIGKILL as partition 1's backlog came in"
                    start a ;;
                32) kill_spate b; rm -rf "$TMP/state-b"
                    echo "# $((SECONDS - t0)) s: killed b with SIGKILL as partition 2's backlog came in, deleted its state"
                    start b ;;
                esac
                wait_for 60 consumed "$p" "$k" || nok "stage $k: partition $p consumed and committed within 60 s"
        done
        [ $k -lt 5 ] && produce it0780.st "$TMP/gen/table-$((k + 1)).tsv" --empty-is-null
done
check "the output ends equal to the reference within 60 s" wait_for 60 exact
tap_relay "" < <($PY "$REF" compare "$TMP/gen" "$TMP/out.jsonl" | sed 's/^\(not \)\?ok [0-9]* - /\1ok - /')
dl=$($KT count "$BOOT" it-0780-dlq)
check "nothing dead-lettered ($dl)" [ "$dl" -eq 0 ]
check_sigterm a b
n=$(grep -ho 'join look: [0-9]* results re-emitted' "$TMP"/spate-*.log | awk '{s += $3} END {print s + 0}')
check "results were re-emitted ($n by the instances that exited last)" [ "$n" -gt 0 ]
echo "# took $((SECONDS - t0)) s"
