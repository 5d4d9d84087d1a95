#!/usr/bin/env bash
# 0820-window-crash.sh - exactness of a repartitioned window (hourly count, sum
# and mean of temperature per region, group_by: region) through crashes:
#   1. two instances over 1,000,000 records (32 partitions) produced while
#      they run, each killed with SIGKILL at random moments and restarted, once aborting itself at a named
#      commit step (SPATE_CRASH_AT), once restarted with its state directory
#      deleted (restoring alone from the changelog); then drained by both;
#   2. scaling 1 -> 3 -> 1 instances while a smaller data set is produced,
#      with processing_guarantee: exactly_once (transactions; on the embedded
#      broker a shell, so this checks that the path keeps results exact);
#   3. a backlog (all input there before two instances start): the source
#      partitions reach the repartitioned tasks hours of event time apart, yet
#      with a grace of 10 minutes no record is late (lateness is per source
#      partition, windows close on the slowest one).
# Every window's final value in the compacted output must equal the Python
# reference (counts exactly, sums and means within 1e-9), and the records
# applied (sum of counts) must equal the input records.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0820-window-crash.yaml
REF=$SPATE_ROOT/tests/ref
if [ -n "${SPATE_ASAN:-}" ]; then N=${N_0820:-150000}; NS=${NS_0820:-50000}; else
        N=${N_0820:-1000000}; NS=${NS_0820:-200000}; fi
SEED=${SEED_0820:-$RANDOM}
RANDOM=$SEED
echo "# seed $SEED (SEED_0820=$SEED repeats the kill times), $N records"
ulimit -c 0
t0=$SECONDS

$PY "$SPATE_ROOT/bench/gen_sensors.py" "$N" "$TMP/in.tsv"
$PY "$REF/hourly_ref.py" expect "$TMP/in.tsv" "$TMP/expected.json"
$PY "$SPATE_ROOT/bench/gen_sensors.py" "$NS" "$TMP/scale.tsv"
$PY "$REF/hourly_ref.py" expect "$TMP/scale.tsv" "$TMP/scale.json"

# The scale phase runs the same topology as another application on other topics.
start_broker --topology "$topo" --topic it0820s.in:32 --topic it-0820s-hourly-repartition:45 \
        --topic it-0820s-hourly-changelog:45 --topic it0820s.hourly:4 --topic it-0820s-dlq:1 \
        --topic it0820b.in:32 --topic it-0820b-hourly-repartition:45 \
        --topic it-0820b-hourly-changelog:45 --topic it0820b.hourly:4 --topic it-0820b-dlq:1 ||
        { nok "broker starts"; exit 1; }

# start NAME [VAR=value...]: one instance with its own state directory.
start() { local name=$1; shift; start_spate "$name" "$topo" SPATE_STATE_DIR="$TMP/state-$name" "$@"; }
alive() { eval "kill -0 \$SPATE_PID_$1" 2>/dev/null; }

# wait_exact SECONDS EXPECTED TOPIC: until the output equals the reference.
wait_exact() {
        local end=$((SECONDS + $1))
        while [ $SECONDS -lt $end ]; do
                $KT consume "$BOOT" "$3" --idle 0.5 >"$TMP/out.jsonl"
                $PY "$REF/hourly_ref.py" compare "$2" "$TMP/out.jsonl" -q && return 0
                sleep 2
        done
        return 1
}

report() {  # NAME EXPECTED DLQ: the comparison as TAP lines
        while read -r status rest; do
                if [ "$status" = ok ]; then ok "$1: ${rest#- }"; else nok "$1: ${rest#*- }"; fi
        done < <($PY "$REF/hourly_ref.py" compare "$2" "$TMP/out.jsonl")
        local dl
        dl=$($KT count "$BOOT" "$3")
        check "$1: nothing dead-lettered ($dl records in $3)" [ "$dl" -eq 0 ] ||
                $KT consume "$BOOT" "$3" --idle 0.5 --max 3 | sed 's/^/# /'
}

# --- 1. kills, a self-abort at a commit step, a deleted state directory ---
# The input arrives in 12 parts over ~30 s, so that the crashes fall while
# records flow and repartition messages, changelog and commits are in flight.
split -n l/12 -d "$TMP/in.tsv" "$TMP/part."
( for f in "$TMP"/part.*; do $KT produce "$BOOT" it0820.in "$f" >/dev/null || exit 1; sleep 1.5; done ) &
producer=$!
start a
start b
kills=0
for i in 1 2 3 4; do kill_at_random 2 4; done
# after_acks leaves the changelog ahead of the local store and of the
# committed input offsets; after_changelog leaves a commit cut before its meta
# record, which the restore repairs (docs/exactness.md §2); one other step is
# drawn at random.
others=(after_outputs after_meta after_checkpoint)
aborts="after_acks after_changelog ${others[$((RANDOM % ${#others[@]}))]}"
for step in $aborts; do
        kill_spate b
        start b SPATE_CRASH_AT="$step" SPATE_CRASH_PROB=0.05
        wait_for 40 bash -c "! kill -0 $SPATE_PID_b 2>/dev/null"
        check "instance b aborted itself at commit step $step" grep -q "SPATE_CRASH_AT=$step" "$TMP/spate-b.log"
        echo "# $((SECONDS - t0)) s: b aborted at $step"
        start b
        sleep 2
done
check "produced the $N records in 12 parts while instances crashed" wait "$producer"
kill_spate a
rm -rf "$TMP/state-a"
echo "# $((SECONDS - t0)) s: killed a and deleted its state directory"
# a restores alone, so that it owns every window partition (13 of the 45 hold
# the data) and does not wait on b's rejoins and restores: b, just restarted
# after its abort, stops cleanly and comes back once a is restored.
kill -TERM "$SPATE_PID_b"
wait "$SPATE_PID_b"; rc=$?
check "b stops cleanly while a restores (rc $rc)" [ "$rc" -eq 0 ]
log_mark a
start a
# The input may be drained already: what follows must check the state a
# rebuilt from the changelog, so wait for a's restore to end (its summary
# line comes after the last partition's apply). Waiting on a's own log lines
# (assignment, then restore), a failure says which of the two never came.
a_restored() { log_since a | grep -q "stores of 'hourly': [0-9]* tasks restored (pipelined): [1-9][0-9]* changelog records applied"; }
a_gone() { ! alive a; }
a_says() {  # what a did since it started, for a failed check of it
        echo "# a's log since it started without its state directory:"
        log_since a | grep -E "running '|assigned|revoked|restored|ERROR|WARN|summary" | cut -c1-200 | tail -40 |
                sed 's/^/#   /'
}
wait_for 120 eval "joined a || a_gone"
check "a rejoined and was assigned partitions ($((SECONDS - t0)) s)" joined a || a_says
wait_for 120 eval "a_restored || a_gone"
echo "# $((SECONDS - t0)) s: a restored; b starts again"
start b
check "drained: every window exact within 120 s" wait_exact 120 "$TMP/expected.json" it0820.hourly
report "after $kills kills, aborts at ${aborts// /+} and a lost state dir" "$TMP/expected.json" it-0820-dlq
# An abort at after_changelog cuts a commit in the changelog only if some of its records left
# the producer's queue before it: how many restores found one (keep_cut()'s line).
echo "# phase 1 took $((SECONDS - t0)) s; restores that found a cut commit and repaired it:" \
     "$(cat "$TMP"/spate-*.log | grep -c 'are of a commit that did not complete')"
rates=$(grep -ho "changelog records applied ([0-9]* ignored) in [0-9.]* s ([0-9]* records/s)" \
        "$TMP"/spate-*.log | sort -t'(' -k3 -n | tail -1)
echo "# fastest restore: $rates"
check "a's restore without its state directory replayed the changelog" a_restored || a_says
grep -h "did not complete" "$TMP"/spate-*.log | head -3 | sed 's/^/# /'
grep -h "restored:" "$TMP"/spate-[ab].log | grep -v " 0 windows" | sed 's/.*restored: /# restored: /' | head -5
kill -TERM "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null
wait "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null

# --- 2. scaling 1 -> 3 -> 1 ---
t1=$SECONDS
export APP_0820=it-0820s IN_0820=it0820s.in OUT_0820=it0820s.hourly GUARANTEE_0820=exactly_once
split -n l/8 -d "$TMP/scale.tsv" "$TMP/scale."
( for f in "$TMP"/scale.[0-9]*; do $KT produce "$BOOT" it0820s.in "$f" >/dev/null || exit 1; sleep 1; done ) &
producer=$!
start s1
sleep 3
start s2
start s3
sleep 5
kill -TERM "$SPATE_PID_s2" "$SPATE_PID_s3"
wait "$SPATE_PID_s2"; rc2=$?
wait "$SPATE_PID_s3"; rc3=$?
check "scaled back to one instance (clean exits $rc2 $rc3)" [ "$rc2" -eq 0 -a "$rc3" -eq 0 ]
check "produced the $NS records in 8 parts while instances came and went" wait "$producer"
check "the scaled instances ran with exactly_once transactions" grep -q "exactly_once: outputs" "$TMP/spate-s1.log"
check "scale 1 -> 3 -> 1: every window exact within 90 s" wait_exact 90 "$TMP/scale.json" it0820s.hourly
report "scale 1 -> 3 -> 1" "$TMP/scale.json" it-0820s-dlq
echo "# phase 2 took $((SECONDS - t1)) s"

# --- 3. a backlog with a realistic grace ---
t2=$SECONDS
export APP_0820=it-0820b IN_0820=it0820b.in OUT_0820=it0820b.hourly GUARANTEE_0820=at_least_once
check "produce the $NS scale records again as a backlog" $KT produce "$BOOT" it0820b.in "$TMP/scale.tsv"
start b1
start b2
check "backlog, grace 10m: every window exact within 60 s" wait_exact 60 "$TMP/scale.json" it0820b.hourly
report "backlog, grace 10m" "$TMP/scale.json" it-0820b-dlq
kill -TERM "$SPATE_PID_b1" "$SPATE_PID_b2"
wait "$SPATE_PID_b1" "$SPATE_PID_b2" 2>/dev/null
# A record an hour older than the data, to source partition 0, read by a new
# instance: late only if the partition's stream time was kept with its offset.
printf '0\ts00000\t{"sensor":"s00000","region":"Corse","ts":%d,"temp":1.0,"humidity":50.0,"battery":3.7}\n' \
        $((1700000000000 - 3600000)) >"$TMP/late.tsv"
$KT produce "$BOOT" it0820b.in "$TMP/late.tsv" --partitioned >/dev/null
start b1
wait_for 40 bash -c "[ \$($KT count '$BOOT' it-0820b-dlq) -ge 1 ]"
$KT consume "$BOOT" it-0820b-dlq --idle 0.5 >"$TMP/late.dlq"
check "after a restart, a record older than its partition's committed stream time is late ($(grep -o '"spate.error": "[^"]*' "$TMP/late.dlq" | head -1 | cut -c1-110))" \
        grep -q '"spate.error": "hourly: late: group .Corse. at 2023-11-14T21:13:20Z, stream time of it0820b.in.0. 2023-11-1' "$TMP/late.dlq"
check "the late record is dead-lettered as it was read" grep -q '"value": "{\\"sensor\\":\\"s00000\\"' "$TMP/late.dlq"
kill -TERM "$SPATE_PID_b1"
wait "$SPATE_PID_b1" 2>/dev/null
echo "# phase 3 took $((SECONDS - t2)) s"
