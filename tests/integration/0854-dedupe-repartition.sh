#!/usr/bin/env bash
# 0854-dedupe-repartition.sh - `dedupe` of repeats whose copies arrive in any input partition,
# with `repartition: true` (0854-dedupe-repartition.yaml: the records go through an internal topic
# partitioned by id): 60,000 records whose ids repeat up to 4 times, each copy in
# a random partition (tests/ref/dedupe_ref.py gen-spread says how many ids span partitions: a
# dedupe straight on the input lets those through more than once), produced in parts while two
# instances run and are killed with SIGKILL at random moments, once with its state directory
# deleted. The repartition topic may hold a message twice after a kill (it is written at least
# once), which dedupe skips by its source offset: the output must hold every id as exactly one
# of its copies.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0854-dedupe-repartition.yaml
REF=$SPATE_ROOT/tests/ref
if [ -n "${SPATE_ASAN:-}" ]; then N=${N_0854:-30000}; else N=${N_0854:-60000}; fi
SEED=${SEED_0854:-$RANDOM}
RANDOM=$SEED
echo "# seed $SEED (SEED_0854=$SEED repeats the kill times), $N records"
ulimit -c 0

$PY "$REF/dedupe_ref.py" gen-spread "$N" 4 "$TMP/in.tsv" "$TMP/copies.json" | tee "$TMP/gen.txt"
spread=$(sed -nE 's/.* ([0-9]+) ids with copies in more than one partition/\1/p' "$TMP/gen.txt")
check "the input has ids whose copies are in different partitions ($spread)" [ "${spread:-0}" -gt 1000 ]
start_broker --topology "$topo" --topic it0854.in:4 --topic it-0854-dd-repartition:4 --topic it-0854-dd-seen_by_key-changelog:4 \
        --topic it0854.out:2 --topic it-0854-dlq:1 || { nok "broker starts"; exit 1; }

start() { start_with_state "$1" "$topo"; }  # kill_at_random restarts instances with it

split -n l/5 -d "$TMP/in.tsv" "$TMP/part."
produce_parts it0854.in "$TMP"/part.0[0-4] &
producer=$!
start a
start b
wait_count 60 it0854.out $((N / 20)) || nok "output starts within 60 s"
kill_at_random --ready joined 1 3
kill_at_random --ready joined 1 3
kill_at_random --ready joined --then delete_state 1 3
check "produced every part while instances were killed" wait "$producer"
check "drained: every id out as exactly one of its copies within 90 s" wait_for 90 dedupe_exact it0854.out once
dedupe_report "after 3 kills: " once
in=$($KT count "$BOOT" it-0854-dd-repartition)
echo "# the repartition topic holds $in records for $N in (copies written again after a kill: $((in - N)))"
check "the repartition topic holds every record ($in >= $N)" [ "$in" -ge "$N" ]
dl=$($KT count "$BOOT" it-0854-dlq)
check "repeats are dropped, not dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
kill -TERM "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null
wait "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null
grep -h "dedupe 'dd':" "$TMP"/spate-*.log | sed 's/.*INFO  [a-z]*: /# /'
