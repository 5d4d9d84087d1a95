#!/usr/bin/env bash
# 0860-resample-crash.sh - resampling with gaps and data-quality aggregates
# (tumbling 10 s per sensor, fill: previous, null and linear, fill_max: 1m)
# through kill -9s: 12 sensors in 3 partitions with dropouts, a stuck, a
# spiky (out of range) and a silent sensor, one that is silent longer than
# fill_max and comes back; 20 minutes of readings produced in 5-minute
# quarters: a kill -9 once the first half's windows were emitted, another
# once the third quarter's started to come out, the last quarter after the
# restore. Every message of both outputs (values, nulls, gap and stale
# flags) must equal tests/ref/resample_ref.py's reference, and nothing be
# dead-lettered.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref
window_crash_setup 0860 resample_ref.py
cat >>"$TMP/topo.yaml" <<YAML
  - name: resampled
    type: window
    from: readings
    window: tumbling
    size: 10s
    emit: final
    fill: previous
    fill_max: 1m
    aggregates:
      mean: mean(temp)
      n: count()
      out_of_range: count_if(temp < 0 or temp > 45)
      sd: stddev(temp)
      stuck: stuck(temp)
      spikes: spikes(temp, 5)
      completeness: completeness(2s)
      staleness: staleness()
  - name: nulls
    type: window
    from: readings
    window: tumbling
    size: 10s
    emit: final
    fill: "null"
    fill_max: 1m
    aggregates:
      mean: mean(temp)
      n: count()
      staleness: staleness()
  - name: linear
    type: window
    from: readings
    window: tumbling
    size: 10s
    emit: final
    fill: linear
    fill_max: 1m
    aggregates:
      mean: mean(temp)
      mx: max(temp)
      n: count()
      staleness: staleness()
  - name: out_prev
    type: kafka_sink
    from: resampled
    topic: it0860.prev
    compacted: true
    partitions: 2
  - name: out_null
    type: kafka_sink
    from: nulls
    topic: it0860.null
    compacted: true
    partitions: 2
  - name: out_linear
    type: kafka_sink
    from: linear
    topic: it0860.linear
    compacted: true
    partitions: 2
YAML
start_broker --topology "$TMP/topo.yaml" || { nok "broker starts"; exit 1; }

start() { start_spate a "$TMP/topo.yaml"; }
consume() {
        $KT consume "$BOOT" it0860.prev --idle 0.5 >"$TMP/prev.jsonl"
        $KT consume "$BOOT" it0860.null --idle 0.5 >"$TMP/null.jsonl"
        $KT consume "$BOOT" it0860.linear --idle 0.5 >"$TMP/linear.jsonl"
}
exact() { consume; $PY "$REF/resample_ref.py" compare "$TMP/in.tsv" "$TMP/prev.jsonl" "$TMP/null.jsonl" "$TMP/linear.jsonl" -q; }

produce() { $KT produce "$BOOT" it0860.in "$TMP/in.tsv.$1" --partitioned 2>/dev/null; }
outputs() { $KT count "$BOOT" it0860.prev; }
restores() {  # restore lines of partitions that had state: 9 per restart (3 windows, 3 partitions)
        grep -o "partition [0-9]* restored: [0-9]* windows in memory" "$TMP/spate-a.log" |
                awk '$4 > 0 {n++} END {print n + 0}'
}
start
produce 1
produce 2
check "first 10 minutes: windows emitted" wait_count 30 it0860.prev 200
# Outputs are out before their commit completes: the first kill waits for every partition's
# first commit, or the restart would restore nothing (and rightly process it all again).
check "every partition committed (state and offsets)" wait_committed 30 it-0860 it0860.in
kill_spate a
echo "# killed with SIGKILL after $(outputs) outputs"
start
n1=$(outputs)
produce 3
check "third 5 minutes: windows emitted after the restart" wait_count 30 it0860.prev $((n1 + 20 + RANDOM % 100))
kill_spate a
echo "# killed with SIGKILL again after $(outputs) outputs"
start
restored_twice() { [ "$(restores)" -ge 18 ]; }
check "the restarts restored the three windows' state (gap windows included) twice" wait_for 30 restored_twice
echo "# $(restores) restore lines with state, of 18"
produce 4
check "every interval exact within 30 s" wait_for 30 exact
consume
tap_relay "" < <($PY "$REF/resample_ref.py" compare "$TMP/in.tsv" "$TMP/prev.jsonl" "$TMP/null.jsonl" "$TMP/linear.jsonl")
dl=$($KT count "$BOOT" it-0860-dlq 2>/dev/null || echo 0)
check "nothing dead-lettered ($dl)" [ "$dl" -eq 0 ]
