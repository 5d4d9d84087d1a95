#!/usr/bin/env bash
# 0370-disk-full.sh - the state directory's disk fills up: spate stops with a
# clear error (not a RocksDB assertion, SIGABRT), commits nothing it has not
# stored, and once space is freed a restart finishes the job exactly.
# Needs root to mount a small tmpfs; skips otherwise.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0340-source-recreated.yaml   # a window with a state store
small_disk 2m "disk full"
export STATE_DIR=$disk/state
N=60000
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
# One window per record (a group each): the state outgrows 2 MB.
$PY - "$TMP/a.tsv" "$N" <<'PY'
import json, sys, time
base = (int(time.time()) // 3600 - 10) * 3600 * 1000
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write("g%05d\t%s\n" % (i, json.dumps({"t": base + i * 100, "i": i})))
PY
check "produce $N records" $KT produce "$BOOT" it0340.in "$TMP/a.tsv"
"$SPATE_BIN" run "$topo" --until-idle 3s 2>"$TMP/spate-1.log"; rc=$?
check "a full disk: exit 1, not an abort (rc $rc)" [ "$rc" -eq 1 ]
check "the error says the disk is full and what to do" \
        grep -q "ERROR.*No space left on device.*the state directory's disk is full: free space and restart" "$TMP/spate-1.log"
check "no RocksDB assertion" bash -c "! grep -q Assertion '$TMP/spate-1.log'"
mount -o remount,size=256m "$disk"
"$SPATE_BIN" run "$topo" --until-idle 3s 2>"$TMP/spate-2.log"; rc=$?
check "after freeing space a restart exits 0 (rc $rc)" [ "$rc" -eq 0 ]
$KT consume "$BOOT" it0340.out --idle 2 >"$TMP/out.jsonl"
$PY - "$TMP/out.jsonl" "$N" <<'PY' | while read -r status rest; do if [ "$status" = ok ]; then ok "$rest"; else nok "$rest"; fi; done
import json, sys
latest = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    latest[r["key"]] = json.loads(r["value"]) if r["value"] else None
n = int(sys.argv[2])
good = sum(1 for k, v in latest.items() if v and v["n"] == 1)
print("ok" if len(latest) == n and good == n else "not",
      "every record counted once in its window (%d windows, %d with n=1, want %d)" % (len(latest), good, n))
PY
