#!/usr/bin/env bash
# 0780-join-reemit.sh - a left join with `retention:` through kill -9s: 3,000 readings (some
# revised, some naming another station on revision) over 4 partitions, joined with a global table
# of 200 stations whose rows mostly arrive after the readings that name them, change
# (corrections) or go (tombstones). Each part of the table comes once the readings before it were
# joined (so their rows do arrive later); two instances, one killed with SIGKILL, the other killed
# and restarted without its state directory (the store restored from its changelog alone). Every
# output message must join a version of its reading with a version of its row, and the last of
# each reading must be its last version joined with the table as it ends
# (tests/ref/join_reemit_ref.py).
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0780-join-reemit.yaml
REF=$SPATE_ROOT/tests/ref/join_reemit_ref.py
SEED=${SEED_0780:-$RANDOM}
echo "# seed $SEED (SEED_0780=$SEED repeats the data)"
ulimit -c 0
t0=$SECONDS
mkdir -p "$TMP/gen"
$PY "$REF" gen "$SEED" "$TMP/gen"
start_broker --topology "$topo" --topic it0780.in:4 --topic it0780.st:1 --topic it-0780-look-lookups-changelog:4 \
        --topic it0780.out:2 --topic it-0780-dlq:1 || { nok "broker starts"; exit 1; }
start() { start_spate "$1" "$topo" SPATE_STATE_DIR="$TMP/state-$1"; }  # NAME: its own state directory
out() { $KT consume "$BOOT" it0780.out --idle 0.5 >"$TMP/out.jsonl"; }
seen() { out && $PY "$REF" seen "$TMP/gen" "$TMP/out.jsonl" "$1"; }
exact() { out && $PY "$REF" compare "$TMP/gen" "$TMP/out.jsonl" -q; }
produce() { $KT produce "$BOOT" "$@" >/dev/null 2>&1 || nok "produce $*"; }

produce it0780.st "$TMP/gen/table-0.tsv" --empty-is-null
start a
start b
for k in 0 1 2 3 4 5; do
        produce it0780.in "$TMP/gen/stream-$k.tsv" --partitioned
        wait_for 60 seen "$k" || nok "every reading of parts 0-$k is joined within 60 s"
        case $k in
        1) kill_spate a; echo "# $((SECONDS - t0)) s: killed a with SIGKILL"; start a ;;
        3) kill_spate b; rm -rf "$TMP/state-b"; echo "# $((SECONDS - t0)) s: killed b with SIGKILL, deleted its state"
           start b ;;
        esac
        [ $k -lt 5 ] && produce it0780.st "$TMP/gen/table-$((k + 1)).tsv" --empty-is-null
done
check "the output ends equal to the reference within 60 s" wait_for 60 exact
while read -r status rest; do
        if [ "$status" = ok ]; then ok "${rest#*- }"; else nok "${rest#*- }"; fi
done < <($PY "$REF" compare "$TMP/gen" "$TMP/out.jsonl")
dl=$($KT count "$BOOT" it-0780-dlq)
check "nothing dead-lettered ($dl)" [ "$dl" -eq 0 ]
kill -TERM "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null
wait "$SPATE_PID_a"; rc=$?; wait "$SPATE_PID_b"; rc=$((rc + $?))
check "both instances exit 0 on SIGTERM" [ "$rc" -eq 0 ]
n=$(grep -ho 'join look: [0-9]* results re-emitted' "$TMP"/spate-*.log | awk '{s += $3} END {print s + 0}')
check "results were re-emitted ($n by the instances that exited last)" [ "$n" -gt 0 ]
grep -h "restored: [1-9][0-9]* changelog records" "$TMP/spate-b.log" | head -4 | sed 's/.*INFO  [a-z]*: /# b: /'
echo "# took $((SECONDS - t0)) s"
