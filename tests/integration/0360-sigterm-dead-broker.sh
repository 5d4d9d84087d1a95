#!/usr/bin/env bash
# serial: it times how long SIGTERM takes (bounded at 20 s), which a second test on the 2 cores would stretch
# 0360-sigterm-dead-broker.sh - the broker dies while outputs are in flight;
# SIGTERM then stops spate within the documented bound (10 s for the
# acknowledgements, then the group and the clients are closed without waiting
# for a broker), exit 1, nothing committed (the input is replayed on restart).
# Three ways to be stuck on a dead broker: a commit waiting for
# acknowledgements (a roomy producer queue), a node waiting for room in a full
# queue (a queue of 2,000 messages, which 100,000 inputs fill at once, with no
# commit under way), and a restore retrying the query of its changelog's
# watermarks (retried for 60 s unless a stop is requested).
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0310-dlq-oversize.yaml   # a map between a source and a sink
$PY -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(100000):
        f.write("k%d\t{\"id\":%d,\"v\":%d}\n" % (i, i, i))
' "$TMP/in.tsv"

# scenario NAME QUEUE_MAX_MESSAGES WAITS_FOR IN_FLIGHT [COMMIT_INTERVAL]
scenario() {
        local name=$1 what=$3
        # Record batches of 20 records and fetches of 512 bytes (a batch a
        # fetch): spate read all of 300,000 records in big batches in well
        # under a second, before the fault below took effect, in 1 of 3 runs
        # once it processed a batch without waiting for it to fill. (The
        # embedded broker keeps ~250,000 records of batches this small.)
        export SPATE_QUEUE_MAX_MESSAGES=$2 COMMIT_INTERVAL_0310=${5:-200ms} SPATE_FETCH_BYTES_0310=512
        # Produce requests (API key 0) answered "Not leader for partition" (6)
        # from a SIGUSR1 on: outputs are retried, never acknowledged, while
        # input is still read, so the queue fills however fast the machine
        # (had the broker only died, spate could have read and sent every
        # record it had fetched before).
        start_broker --topology "$topo" --fault-on-usr1 0:6:100000 || { nok "$name: broker starts"; return; }
        local broker_pid=${_pids[-1]}
        check "$name: produce 100,000 records" $KT produce "$BOOT" it0310.in "$TMP/in.tsv" --batch 20
        start_spate "$name" "$topo"
        local pid_var=SPATE_PID_$name
        local pid=${!pid_var}
        check "$name: outputs flow" wait_count 60 it0310.out 1
        kill -USR1 "$broker_pid"
        wait_for 10 grep -q "SIGUSR1: the next 100000 requests" "$TMP/broker.log"
        local out
        out=$($KT count "$BOOT" it0310.out)
        # In flight, what each way to be stuck needs: one output for a commit to wait for, a queue's
        # worth (2,000) to fill it (3,221-59,520 of the 100,000 were acknowledged before the SIGUSR1 took effect in 6 runs).
        check "$name: outputs stopped before the end ($out of 100000 acknowledged)" [ "$out" -le $((100000 - $4)) ]
        kill -KILL "$broker_pid"
        # Outputs now go into the void: wait until spate sees the broker gone.
        check "$name: $what" wait_for 30 grep -q "Connection refused\|Disconnected\|transport failure" "$TMP/spate-$name.log"
        sleep 1
        sigterm "$name" "$pid"
        check "$name: exit code 1: outputs were not delivered (rc $rc)" [ "$rc" -eq 1 ]
        check "$name: it says the input was not committed" grep -q "not committed" "$TMP/spate-$name.log"
}

# sigterm NAME PID: SIGTERM, then checks that it exits within 20 s; sets rc.
sigterm() {
        local name=$1 pid=$2 t0 secs
        t0=$(date +%s.%N)
        kill -TERM "$pid"
        local deadline=$((SECONDS + 60))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
        secs=$($PY -c "import sys, time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$t0")
        if kill -0 "$pid" 2>/dev/null; then
                echo "# $name: still running $secs s after SIGTERM; its last lines and threads:"
                grep -v "rdkafka ERROR" "$TMP/spate-$name.log" | tail -8 | cut -c1-200 | sed 's/^/#   /'
                stacks "$pid"
                kill -KILL "$pid"
        fi
        wait "$pid"; rc=$?
        check "$name: spate exits within 20 s of SIGTERM (took $secs s; the bound is 10 s of waiting)" \
                $PY -c "import sys; sys.exit(float(sys.argv[1]) > 20)" "$secs"
}

# restore: a window's changelog is replayed at assignment; its watermarks
# query meets a broker that answers ListOffsets (API key 2) with "Not leader
# for partition" (6) and retries (for 60 s: a restarting broker comes back).
# SIGTERM must end the retries: exit 1, no input offset committed.
restore_scenario() {
        local topo=$SPATE_ROOT/tests/integration/0340-source-recreated.yaml   # a window with a changelog
        export STATE_DIR=$TMP/state
        start_broker --topology "$topo" --fault-on-usr1 2:6:100000 ||
                { nok "restore: broker starts"; return; }
        local broker_pid=${_pids[-1]}
        $PY -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(300):
        f.write("s\t{\"t\": %d, \"i\": %d}\n" % (1700000000000 + i * 60000, i))
' "$TMP/restore.tsv"
        check "restore: produce 300 records" $KT produce "$BOOT" it0340.in "$TMP/restore.tsv"
        kill -USR1 "$broker_pid"
        check "restore: the broker answers ListOffsets with errors" \
                wait_for 10 grep -q "SIGUSR1: the next 100000 requests" "$TMP/broker.log"
        start_spate restore "$topo"
        check "restore: the restore retries the changelog's watermarks" wait_for 60 grep -q \
                "watermarks of it-0340-hourly-changelog\[0\]: Broker: Not leader for partition; retrying" \
                "$TMP/spate-restore.log"
        sigterm restore "$SPATE_PID_restore"
        check "restore: exit code 1: the state was not restored (rc $rc)" [ "$rc" -eq 1 ]
        check "restore: it says why it stopped retrying" grep -q \
                "restoring 'hourly' for it0340.in\[0\] failed: watermarks of it-0340-hourly-changelog\[0\]: .*not retried: a stop was requested" \
                "$TMP/spate-restore.log"
        local off
        off=$($KT committed "$BOOT" it-0340 it0340.in | awk '$1 == 0 { print $2 }')
        check "restore: no input offset was committed (committed: $off)" [ "$off" = -1 ]
}
scenario acks 100000 "a commit waits for acknowledgements" 1
# No commit in the queue scenario (its drain of the acknowledgements would
# hold spate first if the outputs stopped while it waited).
scenario queue 2000 "a node waits for room in the producer's queue" 2000 1h
check "queue: the full queue is what held it" grep -q "queue stayed full" "$TMP/spate-queue.log"
restore_scenario
