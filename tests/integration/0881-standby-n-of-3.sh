#!/usr/bin/env bash
# 0881-standby-n-of-3.sh - standby replicas honour num_standby_replicas: three
# instances of a `dedupe` topology (an engine-owned store) over 6 partitions
# with num_standby_replicas: 1. Asserts that (a) once the group is stable and
# input flows, each task is followed by exactly one instance, not its owner
# (each instance's last "assigned" and "standby: following" log lines); (b)
# after the instance that joined first is killed with SIGKILL, each of its
# tasks is restored by the survivor that followed it, from a copy kept warm by
# its standby plus a tail shorter than the copy; (c) the output equals the
# independent reference exactly (tests/ref/dedupe_ref.py). The instance
# killed owns partition 2: the middle one in the range assignor's order, so
# its two tasks go to different survivors (each its task's standby).
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0881-standby-n-of-3.yaml
REF=$SPATE_ROOT/tests/ref
if [ -n "${SPATE_ASAN:-}" ]; then N=${N_0881:-60000}; else N=${N_0881:-200000}; fi
echo "# $N records over 6 partitions, 3 instances, num_standby_replicas: 1"
ulimit -c 0
t0=$SECONDS

$PY "$REF/dedupe_ref.py" gen "$N" 6 10000 "$TMP/in.tsv" "$TMP/expected.json"
start_broker --topology "$topo" --topic it0881.in:6 --topic it-0881-dd-seen-changelog:6 \
        --topic it0881.out:2 --topic it-0881-dlq:1 || { nok "broker starts"; exit 1; }

start() { start_spate "$1" "$topo" SPATE_STATE_DIR="$TMP/state-$1"; }  # NAME: with its own state directory
# Who owns and who follows each partition, from each instance's last lines
# (a standby's line is logged when its choice changes, after each rebalance
# and each change of the committer tags). Prints "p owner followers" per
# partition; exits 0 when the owners hold the 6 partitions once each and
# each partition has exactly one follower, not its owner.
roles() { $PY "$SPATE_ROOT/tests/ref/standby_roles.py" it0881.in 6 "$TMP"/spate-a.log "$TMP"/spate-b.log "$TMP"/spate-c.log; }

# Four fifths flow once the three run; the last fifth (whose ids repeat ids
# of the fourth) once the survivors hold every partition, so that the
# restored copies decide.
split -n l/5 -d "$TMP/in.tsv" "$TMP/part."
start a
check "a holds the 6 partitions" wait_for 30 holds_partitions 6 a
start b
check "a and b hold 3 partitions each" wait_for 30 holds_partitions 3 a b
start c
check "a, b and c hold 2 partitions each" wait_for 30 holds_partitions 2 a b c
( for f in "$TMP"/part.0[0-3]; do $KT produce "$BOOT" it0881.in "$f" --partitioned >/dev/null || exit 1; done ) &
producer=$!
# The owners' tags reach the others within two tag refreshes (5 s each).
check "each task is followed by exactly one instance, not its owner" wait_for 60 bash -c "$(declare -f roles); TMP=$TMP PY=$PY roles >/dev/null"
roles | sed 's/^/# partition, owner, follower: /' | tee "$TMP/roles.txt"
for s in a b c; do grep "standby: following" "$TMP/spate-$s.log" | tail -1 | sed "s/^.*INFO  /# $s: /"; done
wait_count 60 it0881.out $((N * 3 / 10)) || nok "output reaches 30 % within 60 s"
roles >"$TMP/roles.txt" || nok "the roles held until the kill"
victim=$(awk '$1 == 2 { print $2 }' "$TMP/roles.txt")
failed=$(awk -v v="$victim" '$2 == v { print $1 }' "$TMP/roles.txt")
survivors=$(echo a b c | tr ' ' '\n' | grep -v "^$victim$")
declare -A lines
for s in $survivors; do log_mark $s; done
kill_spate "$victim"
t_kill=$(date +%s.%N)
echo "# $((SECONDS - t0)) s: killed $victim (partitions $(echo $failed)) with SIGKILL"
took_over() { for s in $survivors; do log_since $s | grep -q "assigned 3 partitions" || return 1; done; }
check "the survivors ($(echo $survivors)) take $victim's partitions within 60 s" wait_for 60 took_over
check "produced 4 of 5 parts" wait "$producer"
check "produced the last part" $KT produce "$BOOT" it0881.in "$TMP/part.04" --partitioned
check "the output equals the reference within 60 s" wait_for 60 dedupe_exact it0881.out
t_exact=$(date +%s.%N)
dedupe_report "after the failover: "

# (b) each failed partition: restored by the survivor that followed it, from
# its standby's copy plus a tail shorter than it.
for p in $failed; do
        follower=$(awk -v p="$p" '$1 == p { print $3 }' "$TMP/roles.txt")
        # shellcheck disable=SC2086
        check_restored_by "$follower" "partition $p" "partition $p restored:" $survivors
done
dl=$($KT count "$BOOT" it-0881-dlq)
check "nothing dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
stopped() { for s in $survivors; do ! kill -0 "$(eval echo "\$SPATE_PID_$s")" 2>/dev/null || return 1; done; }
for s in $survivors; do kill -TERM "$(eval echo "\$SPATE_PID_$s")"; done
check "the survivors stop on SIGTERM within 30 s" wait_for 30 stopped
awk -v k="$t_kill" -v x="$t_exact" 'BEGIN { printf "# from the kill: output complete after %.1f s (session timeout %d ms)\n", x - k, '"$SPATE_SESSION_TIMEOUT_MS"' }'
echo "# took $((SECONDS - t0)) s"
