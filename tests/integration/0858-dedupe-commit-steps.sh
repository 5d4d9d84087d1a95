#!/usr/bin/env bash
# 0858-dedupe-commit-steps.sh - exactness of an engine-owned store (`dedupe`'s) when its
# instance aborts itself at each step of a commit (SPATE_CRASH_AT, the steps 0820 aborts the
# window at): after_changelog (the frame's records produced, its meta record not), after_meta
# and after_acks (the changelog ahead of RocksDB and of the committed input offsets),
# after_checkpoint (RocksDB ahead of the committed input offsets). 120,000 records with
# repeats over 4 partitions come in 16 parts; two instances run, and instance b is started
# with each step in turn, given parts until it aborts there, and restarted with its state
# directory. The output must then hold every id exactly as the Python reference passes it - its
# first record, never a later copy (tests/ref/dedupe_ref.py).
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0850-dedupe-crash.yaml
if [ -n "${SPATE_ASAN:-}" ]; then N=${N_0858:-40000}; else N=${N_0858:-120000}; fi
ulimit -c 0
t0=$SECONDS

$PY "$SPATE_ROOT/tests/ref/dedupe_ref.py" gen "$N" 4 10000 "$TMP/in.tsv" "$TMP/expected.json"
start_broker --topology "$topo" --topic it0850.in:4 --topic it-0850-dd-seen-changelog:4 \
        --topic it0850.out:2 --topic it-0850-dlq:1 || { nok "broker starts"; exit 1; }
split -n l/16 -d "$TMP/in.tsv" "$TMP/part."
parts=("$TMP"/part.*)
next=0
produce_next() {
        [ "$next" -lt "${#parts[@]}" ] || return 1
        $KT produce "$BOOT" it0850.in "${parts[$next]}" --partitioned >/dev/null 2>&1 && next=$((next + 1))
}

start_with_state a "$topo"
start_with_state b "$topo"
produce_next && produce_next
check "output flows within 60 s" wait_count 60 it0850.out $((N / 40))
for step in after_changelog after_meta after_acks after_checkpoint; do
        kill_spate b
        start_with_state b "$topo" SPATE_CRASH_AT="$step"
        wait_for 60 joined b || echo "# b was not assigned partitions within 60 s"
        # Each part gives both instances records; b aborts at its first commit that reaches the step.
        while ! gone "$SPATE_PID_b" && produce_next; do wait_for 5 gone "$SPATE_PID_b"; done
        wait_for 30 gone "$SPATE_PID_b"
        check "b aborted itself at commit step $step (after $next of ${#parts[@]} parts)" \
                eval 'log_since b | grep -q "SPATE_CRASH_AT=$step: aborting"'
        start_with_state b "$topo"
done
while produce_next; do :; done
check "all ${#parts[@]} parts produced" [ "$next" -eq "${#parts[@]}" ]
check "drained: the output equals the reference within 60 s" wait_for 60 dedupe_exact it0850.out
dedupe_report "after aborts at the four commit steps: "
dl=$($KT count "$BOOT" it-0850-dlq)
check "repeats are dropped, not dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
# An abort at after_changelog leaves a cut frame in the changelog only if some of its records
# left the producer's queue before it: how many restores found one and repaired it.
echo "# restores that repaired a cut commit: $(cat "$TMP"/spate-*.log | grep -c 'of a commit that did not complete')"
kill -TERM "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null
wait "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null
echo "# took $((SECONDS - t0)) s"
