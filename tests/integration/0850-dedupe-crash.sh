#!/usr/bin/env bash
# 0850-dedupe-crash.sh - exactness of `dedupe` (an engine-owned store: cache,
# RocksDB, changelog) through kill -9: 150,000 records with ~80,000 repeated
# ids over 4 partitions, produced in parts while two instances run; each is
# killed with SIGKILL at random moments and restarted, once with its state
# directory deleted (a restore from the changelog alone). The output must
# hold every id exactly as the Python reference passes it - its first record,
# never a later copy - whatever was replayed (tests/ref/dedupe_ref.py).
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0850-dedupe-crash.yaml
REF=$SPATE_ROOT/tests/ref
if [ -n "${SPATE_ASAN:-}" ]; then N=${N_0850:-60000}; else N=${N_0850:-150000}; fi
SEED=${SEED_0850:-$RANDOM}
RANDOM=$SEED
echo "# seed $SEED (SEED_0850=$SEED repeats the kill times), $N records"
ulimit -c 0
t0=$SECONDS

$PY "$REF/dedupe_ref.py" gen "$N" 4 10000 "$TMP/in.tsv" "$TMP/expected.json"
start_broker --topology "$topo" --topic it0850.in:4 --topic it-0850-dd-seen-changelog:4 \
        --topic it0850.out:2 --topic it-0850-dlq:1 || { nok "broker starts"; exit 1; }

start() { start_with_state "$1" "$topo"; }  # kill_at_random restarts instances with it

# Five parts flow while instances are killed; the sixth (whose ids repeat
# ids of the fifth) comes once the instance restarted without its state
# directory holds partitions again, so that its restored store decides.
split -n l/6 -d "$TMP/in.tsv" "$TMP/part."
produce_parts it0850.in "$TMP"/part.0[0-4] &
producer=$!
start a
start b
# The kills fall once output flows, so that commits are in the changelogs.
wait_count 60 it0850.out $((N / 20)) || nok "output starts within 60 s"
# The victim holds partitions, so that the kill interrupts its work; the last one restarts without
# its state directory.
kill_at_random --ready joined 1 3
kill_at_random --ready joined 1 3
kill_at_random --ready joined --then delete_state 1 3
check "produced 5 of 6 parts while instances were killed" wait "$producer"
from_changelog() { log_since "$v" | grep -q "restored: [1-9][0-9]* changelog records applied"; }
check "$v, restarted without its state directory, restored partitions from the changelogs within 60 s" \
        wait_for 60 from_changelog
log_since "$v" | grep -o "partition [0-9] restored: [0-9]* changelog records" | sed 's/^/# /'
check "produced the last part" $KT produce "$BOOT" it0850.in "$TMP/part.05" --partitioned
check "drained: the output equals the reference within 60 s" wait_for 60 dedupe_exact it0850.out
dedupe_report "after 3 kills: "
dl=$($KT count "$BOOT" it-0850-dlq)
check "repeats are dropped, not dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
grep -h "did not complete" "$TMP"/spate-*.log | head -2 | sed 's/^/# /'
kill -TERM "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null
wait "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null
grep -h "dedupe 'dd':" "$TMP"/spate-*.log | sed 's/.*INFO  [a-z]*: /# /'
echo "# took $((SECONDS - t0)) s"
