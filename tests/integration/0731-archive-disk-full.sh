#!/usr/bin/env bash
# 0731-archive-disk-full.sh - the archive's disk fills up: spate stops with a clear error, commits
# no input it has not archived, and once space is freed a restart completes the archive exactly
# (tests/ref/archive_ref.py: every reading once, identical bytes). Needs root to mount a small
# tmpfs; skips otherwise.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0730-archive-exact.yaml
REF=$SPATE_ROOT/tests/ref/archive_ref.py
small_disk 1m "archive disk full"
export ARCHIVE_DIR=$disk/archive CODEC_0730=null ROLL_INTERVAL_0730=500ms
N=12000
$PY "$REF" gen "$N" 7 "$TMP/in.tsv"
start_broker --topic it0730.in:4 --topic it-0730-dlq:1 || { nok "broker starts"; exit 1; }
check "produce $N records (about 2 MB of values)" $KT produce "$BOOT" it0730.in "$TMP/in.tsv" --partitioned
"$SPATE_BIN" run "$topo" --until-idle 3s 2>"$TMP/spate-1.log"; rc=$?
check "a full disk: exit 1, not a crash (rc $rc)" [ "$rc" -eq 1 ]
grep ERROR "$TMP/spate-1.log" | head -1 | sed "s/^/# /"
check "the error names the file, says the disk is full and what to do" \
        grep -qE "ERROR.*archive: (creating|starting|writing|finalizing) /.*: No space left on device.*; the archive's disk is full: free space and restart" \
        "$TMP/spate-1.log"
check "part of the archive was written before" bash -c "ls '$ARCHIVE_DIR'/dt=*/hour=*/*.avro >/dev/null 2>&1"
check "some input offsets stay uncommitted" [ "$(committed_records it-0730 it0730.in)" -lt "$N" ]
mount -o remount,size=64m "$disk"
"$SPATE_BIN" run "$topo" --until-idle 3s 2>"$TMP/spate-2.log"; rc=$?
check "after freeing space a restart exits 0 (rc $rc)" [ "$rc" -eq 0 ]
check "it skipped the replayed records it had archived" grep -q "replays up to there are skipped" "$TMP/spate-2.log"
while read -r status rest; do
        if [ "$status" = ok ]; then ok "after a full disk: ${rest#- }"; else nok "after a full disk: ${rest#*- }"; fi
done < <($PY "$REF" compare "$BOOT" it0730.in it-0730-dlq "$ARCHIVE_DIR" --final)
