#!/usr/bin/env bash
# 0730-archive-exact.sh - archive_sink through kill -9s: two instances archive a 4-partition topic of
# JSON readings (small roll sizes: hundreds of files over several hours) while the input arrives in
# parts and they are killed with SIGKILL at random moments, and abort themselves right after renaming
# files, before the input offsets are committed (all of a commit's files, or only its first). Then
# tests/ref/archive_ref.py, an independent reader (confluent-kafka and Debian's python3-avro), checks
# that every reading is archived exactly once with identical bytes, in the right hour directory, in
# files whose names give their offset ranges, and the malformed ones are in the DLQ.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0730-archive-exact.yaml
REF=$SPATE_ROOT/tests/ref/archive_ref.py
N=${N_0730:-20000} SEED=${SEED_0730:-$RANDOM}
RANDOM=$SEED
echo "# seed $SEED (SEED_0730=$SEED repeats the kill times), $N records"
ulimit -c 0
export ARCHIVE_DIR=$TMP/archive
$PY "$REF" gen "$N" "$SEED" "$TMP/in.tsv"
start_broker --topic it0730.in:4 --topic it-0730-dlq:1 || { nok "broker starts"; exit 1; }

start() { local n=$1; shift; start_spate "$n" "$topo" "$@"; }

# 8 parts: 6 while instances are killed, one for each abort step (below).
split -n l/8 -d "$TMP/in.tsv" "$TMP/part."
( for f in "$TMP"/part.0[0-5]; do $KT produce "$BOOT" it0730.in "$f" --partitioned >/dev/null 2>&1 || exit 1; sleep 1; done ) &
producer=$!
start a
start b
kills=0
for i in 1 2 3; do kill_at_random 1 2; done
check "produced the first 6 parts of the input while instances were killed" wait "$producer"
# Each abort step's part of the input comes once b holds partitions again, so b has files to
# finalize whatever the timing (CI once saw b never reach a rename after the input had ended).
part=6
for step in archive_half_renamed archive_renamed; do
        kill_spate b
        assigned=$(grep -c "assigned [1-9]" "$TMP/spate-b.log")
        start b SPATE_CRASH_AT=$step
        wait_for 60 bash -c "[ \$(grep -c 'assigned [1-9]' '$TMP/spate-b.log') -gt $assigned ]"
        $KT produce "$BOOT" it0730.in "$TMP/part.0$part" --partitioned >/dev/null 2>&1 || nok "produce part $part"
        part=$((part + 1))
        wait_for 30 bash -c "! kill -0 $SPATE_PID_b 2>/dev/null"
        check "instance b aborted itself at $step" grep -q "SPATE_CRASH_AT=$step" "$TMP/spate-b.log"
        start b
done
check "archived: every reading exactly once within 60 s" wait_for 60 $PY "$REF" compare "$BOOT" it0730.in it-0730-dlq "$ARCHIVE_DIR" -q
kill -TERM "$SPATE_PID_a" "$SPATE_PID_b" 2>/dev/null
wait "$SPATE_PID_a"; ra=$?
wait "$SPATE_PID_b"; rb=$?
check "both instances stop cleanly on SIGTERM ($ra $rb)" [ "$ra $rb" = "0 0" ]
grep -h "archive_sink 'archive': .* written" "$TMP"/spate-*.log | sed 's/.*run: /# /'
echo "# in-progress files left by a crash and removed on restart: $(cat "$TMP"/spate-*.log | grep -c "in progress at a crash")"
skipped=$(grep -ho "[0-9]* replays skipped" "$TMP"/spate-*.log | awk '{s += $1} END {print s + 0}')
check "restarts skipped replayed records they found archived ($skipped)" [ "$skipped" -gt 0 ]
while read -r status rest; do
        if [ "$status" = ok ]; then ok "$kills kills: ${rest#- }"; else nok "$kills kills: ${rest#*- }"; fi
done < <($PY "$REF" compare "$BOOT" it0730.in it-0730-dlq "$ARCHIVE_DIR" --final)
