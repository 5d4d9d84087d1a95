# corrections_crash.sh - the kill -9 test of window corrections, shared by 0870 (a window on its
# input's partitions) and 0781 (group_by: the window split into repartition + window halves, each
# record carrying its id down); source after lib.sh, then call corrections_crash_test NUM GROUP,
# GROUP "" or a YAML line such as "    group_by: key()" plus a newline. 0851 calls only
# corrections_crash_setup NUM GROUP (topology, broker, the helpers start, produce, exact,
# verdict) and runs its own schedule. The run: dedupe_by: id, corrections:
# replace (tumbling 30 s per station, retention 1m, emit: final) through
# kill -9s: 9 stations in 3 partitions, 8 minutes of readings of which a
# fifth get new versions (same id and time, another temperature) soon, after
# their window closed (revisions) or past retention (dead letters). Produced
# in thirds: a kill -9 once the first third's windows came out, another once
# the second's started to, the last third after the restore. Every message
# must be a value its window had once closed, the last one its final value
# ("the latest version of each id wins"), and the dead letters exactly the
# late readings - all per tests/ref/corrections_ref.py.
corrections_crash_setup() {
        local num=$1 group=$2
        REF=$SPATE_ROOT/tests/ref
        window_crash_setup "$num" corrections_ref.py
        cat >>"$TMP/topo.yaml" <<YAML
  - name: hourly
    type: window
    from: readings
    window: tumbling
    size: 30s
    retention: 1m
    emit: final
$group    dedupe_by: id
    corrections: replace
    aggregates:
      n: count()
      sum: sum(temp)
      mean: mean(temp)
      sd: stddev(temp)
      hot: count_if(temp > 20)
  - name: out
    type: kafka_sink
    from: hourly
    topic: it$num.out
    partitions: 2
YAML
        start_broker --topology "$TMP/topo.yaml" || { nok "broker starts"; exit 1; }
        CC_NUM=$num  # for the helpers, called after this function returns

        start() { start_spate a "$TMP/topo.yaml"; }
        consume() {
                $KT consume "$BOOT" it$CC_NUM.out --idle 0.5 >"$TMP/out.jsonl"
                $KT consume "$BOOT" it-$CC_NUM-dlq --idle 0.5 >"$TMP/dlq.jsonl" 2>/dev/null || : >"$TMP/dlq.jsonl"
        }
        exact() { consume; $PY "$REF/corrections_ref.py" compare "$TMP/in.tsv" "$TMP/out.jsonl" "$TMP/dlq.jsonl" -q; }
        produce() { $KT produce "$BOOT" it$CC_NUM.in "$TMP/in.tsv.$1" --partitioned 2>/dev/null; }
        outputs() { $KT count "$BOOT" it$CC_NUM.out; }
        # verdict: the reference's TAP lines on the output and the DLQ as they are now
        verdict() {
                consume
                tap_relay "" < <($PY "$REF/corrections_ref.py" compare "$TMP/in.tsv" "$TMP/out.jsonl" "$TMP/dlq.jsonl")
        }
}

corrections_crash_test() {
        local num=$1
        corrections_crash_setup "$@"
        start
        produce 1
        check "first third: windows emitted" wait_count 30 it$num.out 20
        kill_spate a
        echo "# killed with SIGKILL after $(outputs) outputs"
        start
        n1=$(outputs)
        produce 2
        check "second third: windows emitted after the restart" wait_count 30 it$num.out $((n1 + 5 + RANDOM % 30))
        kill_spate a
        echo "# killed with SIGKILL again after $(outputs) outputs"
        start
        produce 3
        check "every window and dead letter exact within 30 s" wait_for 30 exact
        verdict
        revised=$(grep -o "closed windows revised so far (corrections" "$TMP/spate-a.log" | wc -l)
        check "the log tells of revisions by corrections ($revised lines)" [ "$revised" -gt 0 ]
}
