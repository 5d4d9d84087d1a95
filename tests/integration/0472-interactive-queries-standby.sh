#!/usr/bin/env bash
# 0472-interactive-queries-standby.sh - interactive queries answered from a standby's copy
# (`?stale=ok`; README "Interactive queries", docs/stores.md): two instances with
# num_standby_replicas: 1 of a window (tumbling count/sum on the record key, emit: update) and a
# dedupe (an engine-owned key-value store) over 4 partitions, both with --http. Once every record
# is committed and the survivor-to-be's standbys have caught up with the other's changelogs
# (spate_standby_lag_records 0), tests/ref/iq_stale_ref.py asks it about the keys of the other's
# partitions with stale=ok: the live owner answers (forwarded, no standby header). Then the owner
# is killed with SIGKILL and, before the group moves its partitions (session timeout), the
# survivor answers the same questions: without stale=ok a 503 with Retry-After; with it from its
# standby copies, saying so (X-Spate-Source: standby, the changelog offset of each copy, a lag
# of 0 records), every window, history, dedupe entry and scan equal to the references
# (windows_ref.py; the first record of each id). Once the survivor holds every partition, the
# same answers come from it as owner.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref
K=${K_0472:-120}
N=$((K * 20))
ulimit -c 0

$PY "$REF/iq_stale_ref.py" gen "$K" "$N" "$TMP/records.jsonl"
$PY "$REF/window_topics.py" produce-lines "$TMP/records.jsonl" "$TMP/in.tsv"
$PY "$REF/windows_ref.py" --type tumbling --size 3600000 --grace 3600000000 --aggs count,sum \
        <"$TMP/records.jsonl" >"$TMP/windows.jsonl"

topology_header it-0472 >"$TMP/topo.yaml"
cat >>"$TMP/topo.yaml" <<EOF
num_standby_replicas: 1
nodes:
  - name: readings
    type: kafka_source
    topic: it0472.in
    partitions: 4
    time: t
  - name: win
    type: window
    from: readings
    window: tumbling
    size: 1h
    grace: 1000h
    emit: update
    aggregates:
      count: count()
      sum: sum(v)
  - name: win_out
    type: kafka_sink
    from: win
    topic: it0472.win
    compacted: true
    partitions: 2
  - name: dd
    type: dedupe
    from: readings
    key: id
    within: 1000h
  - name: dd_out
    type: kafka_sink
    from: dd
    topic: it0472.dd
    partitions: 2
EOF
start_broker --topology "$TMP/topo.yaml" || { nok "broker starts"; exit 1; }

port=$(free_port 2)
A=http://127.0.0.1:$port B=http://127.0.0.1:$((port + 1))
start() { start_spate "$1" "$TMP/topo.yaml" SPATE_HTTP="${2#http://}" SPATE_STATE_DIR="$TMP/state-$1"; }
start a "$A"
check "a holds the 4 partitions" wait_for 30 holds_partitions 4 a
start b "$B"
check "a and b hold 2 partitions each" wait_for 30 holds_partitions 2 a b
failed=$(grep "assigned 2 partitions" "$TMP/spate-a.log" | tail -1 | grep -o "it0472.in\[[0-9]\]" |
        sed -E "s/.*\[([0-9])\]/\1/" | paste -sd,)
check "produce $N records of $K keys" $KT produce "$BOOT" it0472.in "$TMP/in.tsv" --partitioned
check "every record committed within 60 s" wait_committed 60 it-0472 it0472.in "$N"
# b's standbys of a's tasks: both changelogs' series of a's partitions, all 0.
caught_up() {
        curl -s "$B/metrics" | awk -v want="$failed" '/^spate_standby_lag_records\{.*it-0472-/ {
                        p = $0; sub(/.*partition="/, "", p); sub(/".*/, "", p)
                        if (index("," want ",", "," p ",")) { n++; s += $NF } }
                END { exit !(n == 2 * split(want, w, ",") && s == 0) }'
}
check "b's standbys caught up with a's changelogs within 60 s" wait_for 60 caught_up
ask() {  # MODE [-q]: the questions about a's keys, asked of b
        $PY "$REF/iq_stale_ref.py" check "$B" "$TMP/windows.jsonl" "$TMP/records.jsonl" "$failed" "$@"
}
# The checkpoint after the last commit may lag the committed offsets by one commit_interval.
check "with a live owner, b forwards and a answers (no standby header)" wait_for 30 ask owner -q
tap_relay "owner: " < <(ask owner | grep "^not ok" | head -20)

log_mark b
kill_spate a
ok "killed a (partitions $failed) with SIGKILL"
assigned() { log_since b | grep -q "assigned 4 partitions"; }
ask strict >"$TMP/strict.tap"
check "without stale=ok, b answers every question about a's keys with 503 and Retry-After ($(grep -c "^ok" "$TMP/strict.tap") checks)" \
        [ "$(grep -c "^not ok" "$TMP/strict.tap")" -eq 0 ]
tap_relay "without stale=ok: " < <(grep "^not ok" "$TMP/strict.tap" | head -5)
early=$(assigned && echo "after" || echo "before")
ask stale >"$TMP/stale.tap"
echo "# the stale answers were asked $early b took a's partitions"
check "with stale=ok, b's answers about a's keys equal the references ($(grep -c "^ok" "$TMP/stale.tap") checks)" \
        [ "$(grep -c "^not ok" "$TMP/stale.tap")" -eq 0 ]
tap_relay "with stale=ok: " < <(grep "^not ok" "$TMP/stale.tap" | head -10; grep "answers from a standby" "$TMP/stale.tap")
check "b takes a's partitions within 60 s" wait_for 60 assigned
check "then b answers as owner" wait_for 30 ask owner -q
tap_relay "after the failover: " < <(ask owner | grep "^not ok" | head -20)
check_sigterm b
