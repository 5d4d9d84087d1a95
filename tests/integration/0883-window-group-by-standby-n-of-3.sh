#!/usr/bin/env bash
# 0883-window-group-by-standby-n-of-3.sh - standby replicas of a `group_by`
# window honour num_standby_replicas: three instances of a tumbling count/sum
# per group, whose tasks are the 6 partitions of its repartition topic, with
# num_standby_replicas: 1. The owners of repartition partitions are read from
# the committer tags of the group's offsets on that topic, as for a source.
# Asserts that (a) once input flows, each of the window's tasks is followed by
# exactly one instance, not its owner (each instance's last "assigned" and
# "standby: following" lines; before, every instance followed every task it
# did not own); (b) after the owner of repartition partition 2 is killed with
# SIGKILL, each of its tasks is restored by the survivor that followed it,
# from the copy its standby kept warm plus a shorter tail; (c) the output
# equals the independent reference (tests/ref/windows_ref.py) exactly.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref
if [ -n "${SPATE_ASAN:-}" ]; then K=${K_0883:-1500}; else K=${K_0883:-4000}; fi
N=$((K * 8))
RP=it-0883-win-repartition
echo "# $N records of $K groups over 4 source partitions, grouped into 6 repartition partitions; 3 instances, num_standby_replicas: 1"
ulimit -c 0
t0=$SECONDS

# Each group is fed by every source partition; event times over 3 hours (up
# to 3 windows a group), none late (grace 1000h).
$PY "$REF/gen_hourly_records.py" "$K" "$N" "$TMP/records.jsonl" --seed 883 --spread --prefix g
$PY "$REF/window_topics.py" produce-lines "$TMP/records.jsonl" "$TMP/in.tsv"
$PY "$REF/windows_ref.py" --type tumbling --size 3600000 --grace 3600000000 --aggs count,sum \
        <"$TMP/records.jsonl" >"$TMP/expected.jsonl"

topology_header it-0883 >"$TMP/topo.yaml"
cat >>"$TMP/topo.yaml" <<EOF
num_standby_replicas: 1
nodes:
  - name: readings
    type: kafka_source
    topic: it0883.in
    partitions: 4
    time: t
  - name: win
    type: window
    from: readings
    window: tumbling
    size: 1h
    grace: 1000h
    group_by: key
    partitions: 6
    aggregates:
      count: count()
      sum: sum(v)
  - name: out
    type: kafka_sink
    from: win
    topic: it0883.out
    compacted: true
    partitions: 2
EOF
start_broker --topology "$TMP/topo.yaml" || { nok "broker starts"; exit 1; }

start() { start_spate "$1" "$TMP/topo.yaml" SPATE_STATE_DIR="$TMP/state-$1"; }  # NAME
exact() {
        $KT consume "$BOOT" it0883.out --idle 0.5 >"$TMP/out.jsonl"
        $KT consume "$BOOT" it-0883-dlq --idle 0.2 >"$TMP/dlq.jsonl"
        $PY "$REF/window_topics.py" got "$TMP/out.jsonl" "$TMP/dlq.jsonl" >"$TMP/got.jsonl" &&
                $PY "$REF/compare_windows.py" final "$TMP/expected.jsonl" "$TMP/got.jsonl" >"$TMP/compare.tap"
}
# Who owns and who follows each of the window's tasks (repartition
# partitions), from each instance's last lines. Prints "p owner followers";
# exits 0 when the owners hold the 6 once each and each has exactly one
# follower, not its owner.
roles() { $PY "$SPATE_ROOT/tests/ref/standby_roles.py" "$RP" 6 "$TMP"/spate-a.log "$TMP"/spate-b.log "$TMP"/spate-c.log; }

split -n l/5 -d "$TMP/in.tsv" "$TMP/part."
first3=$(cat "$TMP"/part.0[0-2] | wc -l)
start a
check "a holds the 10 partitions (4 source, 6 repartition)" wait_for 30 holds_partitions 10 a
start b
check "a and b hold 5 partitions each" wait_for 30 holds_partitions 5 a b
start c
# The range assignor orders members by member id, which the embedded broker
# draws from an address: which instance gets the fourth partition varies.
held_4_3_3() {
        local s
        counts=
        for s in a b c; do
                counts="$counts $s:$(partitions_held $s)"
        done
        [ "$(echo $counts | tr ' ' '\n' | cut -d: -f2 | sort | tr '\n' ' ')" = "3 3 4 " ]
}
check "one instance holds 4, the other two 3 each (source 2/1/1, repartition 2/2/2)" wait_for 60 held_4_3_3
echo "# partitions held:$counts"
for f in "$TMP"/part.0[0-2]; do $KT produce "$BOOT" it0883.in "$f" --partitioned >/dev/null; done
check "three fifths committed within 60 s" wait_committed 60 it-0883 it0883.in "$first3"
# The owners' tags reach the others within two tag refreshes (5 s each).
check "each window task is followed by exactly one instance, not its owner" \
        wait_for 60 bash -c "$(declare -f roles); TMP=$TMP PY=$PY RP=$RP roles >/dev/null"
roles >"$TMP/roles.txt" || nok "the roles held"
sed 's/^/# repartition partition, owner, follower: /' "$TMP/roles.txt"
for s in a b c; do grep "standby: following" "$TMP/spate-$s.log" | tail -1 | sed "s/^.*INFO  /# $s: /"; done
victim=$(awk '$1 == 2 { print $2 }' "$TMP/roles.txt")
failed=$(awk -v v="$victim" '$2 == v { print $1 }' "$TMP/roles.txt")
survivors=$(echo a b c | tr ' ' '\n' | grep -v "^$victim$")
# The window's tasks have committed every message of the repartition topic
# (so the copies have most of the state to keep warm).
rp_done() { [ "$(committed_records it-0883 "$RP")" -ge "$($KT count "$BOOT" "$RP")" ]; }
check "the window's tasks committed the repartition topic within 60 s" wait_for 60 rp_done
for s in $survivors; do log_mark $s; done
$KT produce "$BOOT" it0883.in "$TMP/part.03" --partitioned >/dev/null &
producer=$!
kill_spate "$victim"
echo "# $((SECONDS - t0)) s: killed $victim (window tasks $(echo $failed)) with SIGKILL while the fourth fifth flows"
took_over() { for s in $survivors; do log_since $s | grep -q "assigned 5 partitions" || return 1; done; }
check "the survivors ($(echo $survivors)) take $victim's partitions within 60 s" wait_for 60 took_over
check "produced the fourth fifth" wait "$producer"
check "produced the last fifth" $KT produce "$BOOT" it0883.in "$TMP/part.04" --partitioned
check "the output equals the reference within 90 s" wait_for 90 exact
tap_relay "after the failover: " < <(sed 's/^\(not \)\?ok [0-9]* - /\1ok - /' "$TMP/compare.tap")

# (b) each failed task: restored by the survivor that followed it, from its copy.
for p in $failed; do
        follower=$(awk -v p="$p" '$1 == p { print $3 }' "$TMP/roles.txt")
        # shellcheck disable=SC2086
        check_restored_by "$follower" "window task $p" "store 'win' of 'win' partition $p restored:" $survivors
done
dl=$($KT count "$BOOT" it-0883-dlq)
check "nothing dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
# shellcheck disable=SC2086
check_sigterm $survivors
echo "# took $((SECONDS - t0)) s"
