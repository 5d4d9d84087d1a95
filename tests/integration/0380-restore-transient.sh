#!/usr/bin/env bash
# 0380-restore-transient.sh - the broker answers "Not leader for partition"
# for a while (as after a restart) when a restarted instance restores its
# window state and checks its offsets: spate retries with backoff and runs.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0340-source-recreated.yaml   # a window with a changelog
export STATE_DIR=$TMP/state
# ListOffsets (API key 2) answered NOT_LEADER_FOR_PARTITION (6), 6 times per SIGUSR1.
start_broker --topology "$topo" --fault-on-usr1 2:6:6 || { nok "broker starts"; exit 1; }
broker_pid=${_pids[-1]}
$PY - "$TMP/a.tsv" <<'PY'
import json, sys, time
base = (int(time.time()) // 3600 - 10) * 3600 * 1000
with open(sys.argv[1], "w") as f:
    for i in range(300):
        f.write("s\t%s\n" % json.dumps({"t": base + i * 60000, "i": i}))
PY
check "produce 300 records" $KT produce "$BOOT" it0340.in "$TMP/a.tsv"
"$SPATE_BIN" run "$topo" --until-idle 3s 2>"$TMP/spate-1.log"; rc=$?
check "first run exits 0 (rc $rc)" [ "$rc" -eq 0 ]
kill -USR1 "$broker_pid"
check "the broker will answer Not leader" wait_for 10 grep -q "SIGUSR1: the next 6 requests" "$TMP/broker.log"
"$SPATE_BIN" run "$topo" --until-idle 3s 2>"$TMP/spate-2.log"; rc=$?
check "a restart through the errors exits 0 (rc $rc)" [ "$rc" -eq 0 ]
# The offset check at assignment meets the errors first; the restore's query
# of the changelog goes through the same retrying function.
check "it retried the watermark query" grep -q "watermarks of it0340.in\[0\]: Broker: Not leader for partition; retrying" "$TMP/spate-2.log"
check "and restored the window state" grep -q "window 'hourly' partition 0 restored" "$TMP/spate-2.log"
