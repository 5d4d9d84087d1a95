#!/usr/bin/env bash
# 0360-sigterm-dead-broker.sh - the broker dies while outputs are in flight;
# SIGTERM then stops spate within the documented bound (10 s for the
# acknowledgements, then the group and the clients are closed without waiting
# for a broker), exit 1, nothing committed (the input is replayed on restart).
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0310-dlq-oversize.yaml   # a map between a source and a sink
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
broker_pid=${_pids[-1]}
$PY -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(300000):
        f.write("k%d\t{\"id\":%d,\"v\":%d}\n" % (i, i, i))
' "$TMP/in.tsv"
check "produce 300,000 records" $KT produce "$BOOT" it0310.in "$TMP/in.tsv"
start_spate a "$topo"
check "outputs flow" wait_count 60 it0310.out 1
kill -KILL "$broker_pid"
# Outputs are now produced into the void: wait for a commit to be stuck on them.
check "a commit waits for acknowledgements" wait_for 30 grep -q "Connection refused\|Disconnected\|Broker transport failure\|transport failure" "$TMP/spate-a.log"
sleep 1
t0=$(date +%s.%N)
kill -TERM "$SPATE_PID_a"
deadline=$((SECONDS + 60))
while kill -0 "$SPATE_PID_a" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
secs=$($PY -c "import sys, time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$t0")
kill -0 "$SPATE_PID_a" 2>/dev/null && kill -KILL "$SPATE_PID_a"
wait "$SPATE_PID_a"; rc=$?
check "spate exits within 20 s of SIGTERM (took $secs s; the bound is 10 s of waiting)" $PY -c "import sys; sys.exit(float(sys.argv[1]) > 20)" "$secs"
check "exit code 1: outputs were not delivered (rc $rc)" [ "$rc" -eq 1 ]
check "it says the input was not committed" grep -q "not committed" "$TMP/spate-a.log"
