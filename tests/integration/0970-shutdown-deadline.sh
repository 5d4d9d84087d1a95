#!/usr/bin/env bash
# 0970-shutdown-deadline.sh - a stop request ends the process even when a library call never
# returns (librdkafka's consumer close can block for good in its last revoke: librdkafka#4884).
# The test hook SPATE_HANG_AT=consumer_close blocks the engine right where it calls
# rd_kafka_consumer_close(). Then:
#   1. past settings.shutdown_timeout (2 s here) the instance exits with status 3 and says why;
#      it had left the group before (unsubscribe, its revoke served by its own poll);
#   2. a second SIGTERM ends an instance with a long timeout (120 s) at once, status 3;
#   3. nothing is lost or doubled by those exits: a `dedupe` job (an engine-owned store, so
#      state and offsets committed together) restarted on the rest of the input writes exactly
#      what tests/ref/dedupe_ref.py passes, and every input record is committed;
#   4. without the hook, SIGTERM still ends it cleanly (status 0) well within the deadline; and a
#      run that ends by itself (--until-idle), blocked after it (closing its store), exits with
#      status 3 past the deadline, naming the step;
#   5. `spate check` refuses a shutdown_timeout under 1 s with the file:line.
. "$SPATE_ROOT/tests/lib.sh"
N=${N_0970:-8000}
topo=$TMP/topo.yaml
{
        topology_header it-0970 'shutdown_timeout: ${SHUTDOWN_0970:-2s}'
        cat <<'EOF'
nodes:
  - name: messages
    type: kafka_source
    topic: it0970.in
    partitions: 4
    time: t
  - name: dd
    type: dedupe
    from: messages
    key: id
    within: 10s
  - name: out
    type: kafka_sink
    from: dd
    topic: it0970.out
    partitions: 2
EOF
} >"$topo"

$PY "$SPATE_ROOT/tests/ref/dedupe_ref.py" gen "$N" 4 10000 "$TMP/gen.tsv" "$TMP/expected.json"
split -n l/3 -d "$TMP/gen.tsv" "$TMP/in."
start_broker --topology "$topo" --topic it0970.in:4 --topic it-0970-dd-seen-changelog:4 \
        --topic it0970.out:2 --topic it-0970-dlq:1 || { nok "broker starts"; exit 1; }
produce() { $KT produce "$BOOT" it0970.in "$TMP/in.$1" --partitioned >/dev/null 2>&1 || nok "produce in.$1"; }
lines() { cat "$@" | wc -l; }
start() { SPATE_STATE_DIR="$TMP/state" start_spate "$@"; }
# stop_status NAME SECONDS: waits up to SECONDS for instance NAME to exit; its status in rc
# ("running" if it did not). Not in $(...): a subshell cannot wait for the instance.
stop_status() {
        local pid
        eval "pid=\$SPATE_PID_$1"
        rc=running
        wait_for "$2" gone "$pid" || return 0
        wait "$pid"
        rc=$?
}

# 1. The deadline.
produce 00
start a "$topo" SPATE_HANG_AT=consumer_close
check "a processed and committed the first third" wait_committed 90 it-0970 it0970.in "$(lines "$TMP/in.00")"
kill -TERM "$SPATE_PID_a"
t=$SECONDS
stop_status a 60
check "a, blocked in its consumer close, exits with status 3 after SIGTERM (got $rc, $((SECONDS - t)) s)" \
        [ "$rc" = 3 ]
check "the hook blocked a where it closes its consumer" grep -q 'SPATE_HANG_AT=consumer_close: blocking' \
        "$TMP/spate-a.log"
check "a revoked its partitions before its consumer's close (the revoke in its own poll, not the close's)" \
        awk '/revoked [0-9]+ partitions/ { r = 1 } /SPATE_HANG_AT=consumer_close: blocking/ { ok = r; exit }
             END { exit !ok }' \
        "$TMP/spate-a.log"
check "a's log says the stop took longer than settings.shutdown_timeout" \
        grep -q 'the stop took longer than settings.shutdown_timeout (2000 ms), stuck at step consumer_close: exiting without finishing the stop' \
        "$TMP/spate-a.log"

# 2. A second signal.
produce 01
start b "$topo" SPATE_HANG_AT=consumer_close SHUTDOWN_0970=120s
check "b processed and committed the second third" \
        wait_committed 90 it-0970 it0970.in "$(lines "$TMP/in.00" "$TMP/in.01")"
kill -TERM "$SPATE_PID_b"
wait_for 60 grep -q 'SPATE_HANG_AT=consumer_close: blocking' "$TMP/spate-b.log"
t=$SECONDS
kill -TERM "$SPATE_PID_b"
stop_status b 30
check "b (shutdown_timeout 120s) exits with status 3 at a second SIGTERM (got $rc, $((SECONDS - t)) s)" \
        [ "$rc" = 3 ]
check "b's log names the second stop signal" grep -q 'a second stop signal, stuck at step consumer_close: exiting without finishing' \
        "$TMP/spate-b.log"

# 3 and 4. A clean run on the rest, then a clean stop.
produce 02
start c "$topo"
check "c committed every input record" wait_committed 90 it-0970 it0970.in "$N"
wait_for 30 dedupe_exact it0970.out
dedupe_report "after two cut-short stops: "
kill -TERM "$SPATE_PID_c"
stop_status c 60
check "c, without the hook, exits 0 on SIGTERM (got $rc)" [ "$rc" = 0 ]
check "c's stop was not cut short" bash -c "! grep -q 'exiting without finishing the stop' '$TMP/spate-c.log'"

# 4b. The deadline covers the whole stop, the steps after the engine's run too, and a run that
# ends by itself (--until-idle): d blocks closing its store after its last commit.
SPATE_HANG_AT=store_close SPATE_STATE_DIR="$TMP/state" "$SPATE_BIN" run "$topo" --until-idle 1s \
        2>>"$TMP/spate-d.log" &
SPATE_PID_d=$!
stop_status d 60
check "d, ending by itself and blocked closing its store, exits with status 3 (got $rc)" [ "$rc" = 3 ]
check "d's log names the step it was stuck at" \
        grep -q 'shutdown_timeout (2000 ms), stuck at step store_close: exiting without finishing' "$TMP/spate-d.log"
check "d committed every input record before" wait_committed 30 it-0970 it0970.in "$N"

# 5. A bad value, at load.
sed 's/\${SHUTDOWN_0970:-2s}/500ms/' "$topo" >"$TMP/bad.yaml"
"$SPATE_BIN" check "$TMP/bad.yaml" >"$TMP/check.out" 2>&1
check "spate check refuses shutdown_timeout: 500ms with its file:line ($(head -c 160 "$TMP/check.out"))" \
        grep -q "bad.yaml:[0-9]*:[0-9]*: .*shutdown_timeout must be a duration of at least 1s" "$TMP/check.out"
