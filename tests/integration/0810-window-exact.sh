#!/usr/bin/env bash
# 0810-window-exact.sh - the `window` node on the embedded broker, for every
# window type with emit: update and emit: final: a fixed record stream (4
# partitions, 12 keys, disorder inside grace, late records outside it, times
# on window boundaries) runs through `spate run`; the compacted view of each
# output topic (latest value per window key) and the late records in the DLQ
# must equal tests/ref/windows_ref.py's windows and late records exactly,
# though every instance is killed with SIGKILL and restarted on the way.
# The input is bounded (--end-of-input closes the last windows), so stream
# time follows the records only: a pause of an instance (ASan, a busy
# machine) cannot move it on as close_after_idle would (0840 tests that).
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref
N=${N_0810:-4000}

$PY "$REF/gen_window_records.py" --seed 810 --records "$N" --grace 300 >"$TMP/records.jsonl"
$PY "$REF/window_topics.py" produce-lines "$TMP/records.jsonl" "$TMP/in.tsv"

# name | window parameters (YAML lines, ';' separated) | emit | windows_ref.py arguments
runs=(
        "tumbling-update|window: tumbling;size: 1000ms;grace: 300ms|update|--type tumbling --size 1000 --grace 300"
        "tumbling-final|window: tumbling;size: 1s;grace: 300ms|final|--type tumbling --size 1000 --grace 300"
        "hopping-update|window: hopping;size: 1000ms;advance: 300ms;grace: 300ms|update|--type hopping --size 1000 --advance 300 --grace 300"
        "hopping-final|window: hopping;size: 1000ms;advance: 300ms;grace: 300ms|final|--type hopping --size 1000 --advance 300 --grace 300"
        "sliding-update|window: sliding;size: 500ms;grace: 300ms|update|--type sliding --size 500 --grace 300"
        "sliding-final|window: sliding;size: 500ms;grace: 300ms|final|--type sliding --size 500 --grace 300"
        "session-update|window: session;gap: 150ms;grace: 300ms|update|--type session --gap 150 --grace 300"
        "session-final|window: session;gap: 150ms;grace: 300ms|final|--type session --gap 150 --grace 300"
        # The same windows through a repartition topic (group_by the key field, so each group's
        # records still come from one source partition): lateness is judged by the source
        # partition's stream time, so results must not change.
        "tumbling-final-grouped|window: tumbling;size: 1s;grace: 300ms;group_by: key;partitions: 3|final|--type tumbling --size 1000 --grace 300"
        "hopping-update-grouped|window: hopping;size: 1000ms;advance: 300ms;grace: 300ms;group_by: key;partitions: 3|update|--type hopping --size 1000 --advance 300 --grace 300"
        "sliding-final-grouped|window: sliding;size: 500ms;grace: 300ms;group_by: key;partitions: 3|final|--type sliding --size 500 --grace 300"
        "session-update-grouped|window: session;gap: 150ms;grace: 300ms;group_by: key;partitions: 3|update|--type session --gap 150 --grace 300"
)

topology() {  # name, window lines, emit
        local params=${2//;/$'\n    '}
        topology_header "it-0810-$1" "state_dir: $TMP/state-$1" >"$TMP/$1.yaml"
        cat >>"$TMP/$1.yaml" <<EOF
nodes:
  - name: records
    type: kafka_source
    topic: it0810.in
    partitions: 4
    time: t
  - name: win
    type: window
    from: records
    $params
    emit: $3
    aggregates:
      count: count()
      sum: sum(v)
      mean: "mean(v)"
      min: min(v)
      max: max( v )
      first: first(v)
      last: last(v)
      count_distinct: count_distinct(v)
  - name: out
    type: kafka_sink
    from: win
    topic: it0810.$1
    compacted: true
    partitions: 4
EOF
}

# The broker creates the first topology's topics; the others' (all but the
# shared input) are listed, since it refuses to create a topic twice.
broker_args=()
for r in "${runs[@]}"; do
        IFS='|' read -r name params emit _ <<<"$r"
        topology "$name" "$params" "$emit"
        if [ ${#broker_args[@]} -eq 0 ]; then
                broker_args+=(--topology "$TMP/$name.yaml")
        else
                broker_args+=(--topic "it0810.$name:4" --topic "it-0810-$name-dlq:1")
                if [[ $params == *group_by* ]]; then
                        broker_args+=(--topic "it-0810-$name-win-changelog:3"
                                      --topic "it-0810-$name-win-repartition:3")
                else
                        broker_args+=(--topic "it-0810-$name-win-changelog:4")
                fi
        fi
done
check "spate check accepts a window topology" "$SPATE_BIN" check "$TMP/tumbling-update.yaml"
sed 's/mean: "mean(v)"/mean: "maen(v)"/' "$TMP/tumbling-update.yaml" >"$TMP/bad.yaml"
line=$(grep -n 'maen' "$TMP/bad.yaml" | cut -d: -f1)
"$SPATE_BIN" check "$TMP/bad.yaml" >/dev/null 2>"$TMP/bad.err"
check "a misspelt aggregate is a load error at its line with a did-you-mean ($(head -c 120 "$TMP/bad.err"))" \
        grep -q "bad.yaml:$line:.*unknown aggregate function 'maen'; did you mean 'mean'" "$TMP/bad.err"
start_broker "${broker_args[@]}" || { nok "broker starts"; exit 1; }
# Two halves, the second while the nodes run: windows change over several
# commits (emit: update coalesces per commit) and stream time waits.
# A third part after every instance was killed with SIGKILL and restarted: its
# late records are late against stream times from before the crash (restored
# from the changelog, or committed with the source offsets for group_by).
n=$(wc -l <"$TMP/in.tsv")
head -n "$((n / 2))" "$TMP/in.tsv" >"$TMP/in1.tsv"
sed -n "$((n / 2 + 1)),$((n * 3 / 4))p" "$TMP/in.tsv" >"$TMP/in2.tsv"
tail -n +"$((n * 3 / 4 + 1))" "$TMP/in.tsv" >"$TMP/in3.tsv"
check "produce the first half to 4 partitions" $KT produce "$BOOT" it0810.in "$TMP/in1.tsv" --partitioned
start_all() {
        pids=()
        for r in "${runs[@]}"; do
                IFS='|' read -r name _ _ _ <<<"$r"
                "$SPATE_BIN" run "$TMP/$name.yaml" --until-idle 6s --end-of-input 2>>"$TMP/spate-$name.log" &
                pids+=($!); _pids+=($!)
        done
}
start_all
wait_count 30 it0810.tumbling-update 1
check "produce a quarter more while they run" $KT produce "$BOOT" it0810.in "$TMP/in2.tsv" --partitioned
# At once: a pause longer than --until-idle would end the input.
kill -KILL "${pids[@]}"
wait "${pids[@]}" 2>/dev/null
check "produce the last quarter after a SIGKILL of every instance" \
        $KT produce "$BOOT" it0810.in "$TMP/in3.tsv" --partitioned
start_all
i=0
for r in "${runs[@]}"; do
        IFS='|' read -r name _ _ _ <<<"$r"
        wait "${pids[$i]}"
        check "$name: spate run --until-idle exits 0" [ $? -eq 0 ]
        i=$((i + 1))
done

for r in "${runs[@]}"; do
        IFS='|' read -r name _ emit refargs <<<"$r"
        # shellcheck disable=SC2086
        $PY "$REF/windows_ref.py" $refargs <"$TMP/records.jsonl" >"$TMP/$name.ref"
        $KT consume "$BOOT" "it0810.$name" --idle 1.5 >"$TMP/$name.out"
        $KT consume "$BOOT" "it-0810-$name-dlq" --idle 1 >"$TMP/$name.dlq"
        $PY "$REF/window_topics.py" got "$TMP/$name.out" "$TMP/$name.dlq" >"$TMP/$name.got"
        check "$name: output topic and DLQ read" [ $? -eq 0 ]
        read -r nrec nkeys ntomb npairs < <($PY "$REF/window_topics.py" stats "$TMP/$name.out")
        echo "# $name: $nrec output records, $nkeys window keys, $ntomb tombstoned"
        if [ "$emit" = final ]; then
                # A restore emits its last commit's entries again (their first
                # emission may not have been acknowledged): the same value twice.
                check "$name: each window emitted with one value only ($nrec records, $npairs distinct, $nkeys keys)" \
                        [ "$npairs" -eq "$nkeys" ]
        elif [[ $name == session* ]]; then
                check "$name: merged sessions were tombstoned ($ntomb)" [ "$ntomb" -gt 0 ]
        fi
        tap_relay "" < <($PY "$REF/compare_windows.py" "$name" "$TMP/$name.ref" "$TMP/$name.got" 1 |
                         sed 's/^\(not \)\?ok [0-9]* - /\1ok - /')
done
grep -h "late:" "$TMP"/spate-*.log | head -2 | sed 's/^/# /'
