#!/usr/bin/env bash
# 0840-window-partitions-apart.sh - a grouped window (group_by: every group
# is fed by several source partitions) whose source partitions do not start
# together: a record is late only by its own source partition's stream time,
# whatever order and time the partitions start in. Against
# tests/ref/windows_ref.py (per-partition stream time), for every final
# window and for the DLQ, which must hold exactly the reference's late records
# and the malformed ones, as the source records:
#   A. instances already running, idle; partition 0 first, then partitions 1
#      (event times 3 hours behind) and 2 seconds later; partition 3 stays
#      empty; a second instance, a kill -9 on the way; end of input closes
#      the last windows (spate run --until-idle --end-of-input);
#   B. partitions 2 and 3 stay empty: under close_after_idle the windows still
#      close, with no end of input;
#   C. partitions 1 and 2 start after partition 0's windows were closed and
#      emitted (they were released as empty under close_after_idle): their
#      records, on time by their own partitions, revise the final windows.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref
N=${N_0840:-3000}
H3=$((-3 * 3600 * 1000))

$PY "$REF/gen_window_records.py" --seed 840 --records "$N" --grace 300 >"$TMP/gen.jsonl"

topology() {  # name, close_after_idle, extra window lines
        local idle="close_after_idle: $2"
        [ -n "$2" ] || idle=""
        topology_header "it-0840-$1" 'state_dir: ${STATE_0840:-state}' >"$TMP/$1.yaml"
        cat >>"$TMP/$1.yaml" <<EOF
nodes:
  - name: records
    type: kafka_source
    topic: it0840.$1.in
    partitions: 4
    time: t
  - name: win
    type: window
    from: records
    window: tumbling
    size: 1s
    grace: 300ms
    emit: final
    $idle
    $3
    aggregates:
      count: count()
      sum: sum(v)
      mean: mean(v)
      min: min(v)
      max: max(v)
      first: first(v)
      last: last(v)
      count_distinct: count_distinct(v)
  - name: out
    type: kafka_sink
    from: win
    topic: it0840.$1.out
    compacted: true
    partitions: 4
EOF
}

# data NAME RESHAPE-ARGS...: the records, the reference, and per partition a
# file to produce; two malformed records end partition 0's file.
data() {
        local name=$1; shift
        $PY "$REF/reshape_records.py" "$@" <"$TMP/gen.jsonl" >"$TMP/$name.jsonl"
        $PY "$REF/windows_ref.py" --type tumbling --size 1000 --grace 300 <"$TMP/$name.jsonl" >"$TMP/$name.ref"
        $PY "$REF/window_topics.py" produce-lines "$TMP/$name.jsonl" "$TMP/$name.tsv"
        for p in 0 1 2 3; do grep -P "^$p\t" "$TMP/$name.tsv" >"$TMP/$name.p$p.tsv"; done
        local n0
        n0=$(wc -l <"$TMP/$name.p0.tsv")
        printf '0\tbad\t{"key": "g1", "t": 12, "v": 1, "p": 0, "o": %d\n' "$n0" >>"$TMP/$name.p0.tsv"
        printf '0\tbad\t{"key": "g2", "t": "noon", "v": 1, "p": 0, "o": %d}\n' $((n0 + 1)) >>"$TMP/$name.p0.tsv"
        echo "0 $n0" >"$TMP/$name.bad"
        echo "0 $((n0 + 1))" >>"$TMP/$name.bad"
}

# consumed NAME P...: the group committed every record of partitions P.
consumed() {
        local name=$1; shift
        local got p want
        got=$($KT committed "$BOOT" "it-0840-$name" "it0840.$name.in" 2>/dev/null) || return 1
        for p in "$@"; do
                want=$(wc -l <"$TMP/$name.p$p.tsv")
                [ "$(awk -v p="$p" '$1 == p { print $2 }' <<<"$got")" = "$want" ] || return 1
        done
}

# exact NAME: the output topic's final windows and the late dead letters equal the reference.
exact() {
        $KT consume "$BOOT" "it0840.$1.out" --idle 0.5 >"$TMP/$1.out"
        $KT consume "$BOOT" "it-0840-$1-dlq" --idle 0.5 >"$TMP/$1.dlq"
        $PY "$REF/window_topics.py" got "$TMP/$1.out" "$TMP/$1.dlq" >"$TMP/$1.got" &&
                $PY "$REF/compare_windows.py" "$1" "$TMP/$1.ref" "$TMP/$1.got" >/dev/null
}

# verdict NAME: the comparison as TAP lines, and the DLQ's other records.
verdict() {
        local name=$1
        exact "$name"
        $PY "$REF/window_topics.py" got "$TMP/$name.out" "$TMP/$name.dlq" >/dev/null
        check "$name: output topic and DLQ read (late dead letters are the source records)" [ $? -eq 0 ]
        tap_relay "" < <($PY "$REF/compare_windows.py" "$name" "$TMP/$name.ref" "$TMP/$name.got" 1 |
                         sed 's/^\(not \)\?ok [0-9]* - /\1ok - /')
        # Every other dead letter is one of the malformed records, as it was sent;
        # replays may repeat a dead letter, which its origin headers identify.
        $PY - "$TMP/$name.dlq" "$TMP/$name.bad" "$TMP/$name.p0.tsv" "it0840.$name.in" >"$TMP/$name.dlqcheck" <<'PY'
import json, sys
dlq, bad, p0, topic = sys.argv[1:5]
want = {tuple(map(int, l.split())) for l in open(bad) if l.strip()}
lines = open(p0).read().splitlines()
seen, wrong, dups = set(), [], 0
for line in open(dlq):
    m = json.loads(line)
    h = m["headers"]
    if "late" in (h.get("spate.error") or ""):
        continue
    origin = (int(h["spate.partition"]), int(h["spate.offset"]))
    if origin in seen:
        dups += 1
    seen.add(origin)
    sent = lines[origin[1]].split("\t", 2)[2] if origin[0] == 0 and origin[1] < len(lines) else None
    if origin not in want or m["value"] != sent or h.get("spate.topic") != topic:
        wrong.append((origin, m["value"][:60], h.get("spate.error")))
print("ok" if seen == want and not wrong else "bad", len(seen), dups, wrong[:3])
PY
        read -r verdict nbad ndups rest <"$TMP/$name.dlqcheck"
        check "$name: the DLQ holds the $nbad malformed records as sent (plus the late ones above; $ndups repeated by replays) $rest" \
                [ "$verdict" = ok ]
}

start_one() {  # NAME INSTANCE [spate run options]
        local name=$1 inst=$2; shift 2
        STATE_0840="$TMP/state-$name-$inst" "$SPATE_BIN" run "$TMP/$name.yaml" "$@" \
                2>>"$TMP/spate-$name-$inst.log" &
        _pids+=($!)
        eval "PID_$inst=$!"
}

grouped="group_by: key
    partitions: 3"
topology A 60s "$grouped"
topology B 3s "$grouped"
topology C 2s "$grouped
    retention: 1h"
topology D "" ""
data A --groups 5 --shift 1:$H3 --drop 3
data B --groups 5 --drop 2 --drop 3
data C --groups 5 --drop 3
# D: the generator's own keys, each fed by one partition, for a window without group_by.
cp "$TMP/gen.jsonl" "$TMP/D.jsonl"
$PY "$REF/windows_ref.py" --type tumbling --size 1000 --grace 300 <"$TMP/D.jsonl" >"$TMP/D.ref"
$PY "$REF/window_topics.py" produce-lines "$TMP/D.jsonl" "$TMP/D.tsv"
start_broker --topology "$TMP/A.yaml" --topology "$TMP/B.yaml" --topology "$TMP/C.yaml" --topology "$TMP/D.yaml" ||
        { nok "broker starts"; exit 1; }

# --- A. instances running before the input; partitions starting apart ---
start_one A a
wait_for 30 grep -q "assigned [1-9]" "$TMP/spate-A-a.log"
check "A: produce partition 0 to an idle instance" $KT produce "$BOOT" it0840.A.in "$TMP/A.p0.tsv" --partitioned
check "A: partition 0 consumed and committed" wait_for 60 consumed A 0
start_one A b
check "A: then partition 1, 3 hours behind in event time" $KT produce "$BOOT" it0840.A.in "$TMP/A.p1.tsv" --partitioned
kill -KILL "$PID_a"
wait "$PID_a" 2>/dev/null
start_one A a
check "A: then partition 2, after a kill -9" $KT produce "$BOOT" it0840.A.in "$TMP/A.p2.tsv" --partitioned
check "A: every record consumed and committed (partition 3 stays empty)" wait_for 90 consumed A 0 1 2
kill -TERM "$PID_a" "$PID_b"
wait "$PID_a" "$PID_b" 2>/dev/null
# Partition 3 never had a record and close_after_idle (60 s) has not passed:
# the last windows are still open. The end of the input closes them.
start_one A c --until-idle 2s --end-of-input
wait "$PID_c"
check "A: spate run --until-idle 2s --end-of-input exits 0" [ $? -eq 0 ]
check "A: it says so in its log" grep -q "end of input" "$TMP/spate-A-c.log"
verdict A

# --- B. empty partitions under close_after_idle ---
check "B: produce partitions 0 and 1 (2 and 3 stay empty)" \
        bash -c "$KT produce $BOOT it0840.B.in $TMP/B.p0.tsv --partitioned && $KT produce $BOOT it0840.B.in $TMP/B.p1.tsv --partitioned"
start_one B a
check "B: every final window emitted, exact, without an end of input" wait_for 90 exact B
kill -TERM "$PID_a"
wait "$PID_a" 2>/dev/null
verdict B

# --- C. partitions that start after the others' windows closed ---
check "C: produce partition 0" $KT produce "$BOOT" it0840.C.in "$TMP/C.p0.tsv" --partitioned
start_one C a
check "C: partition 0's windows closed and emitted (1, 2, 3 released as empty)" \
        wait_for 90 bash -c "[ \$($KT count $BOOT it0840.C.out) -ge 20 ]"
check "C: then partitions 1 and 2" \
        bash -c "$KT produce $BOOT it0840.C.in $TMP/C.p1.tsv --partitioned && $KT produce $BOOT it0840.C.in $TMP/C.p2.tsv --partitioned"
check "C: every record consumed and committed" wait_for 90 consumed C 0 1 2
check "C: the final windows revised to the reference's" wait_for 60 exact C
kill -TERM "$PID_a"
wait "$PID_a" 2>/dev/null
check "C: the closed windows were revised" grep -q "revised" "$TMP/spate-C-a.log"
verdict C

# --- D. a backlog without group_by, to its end ---
check "D: produce a backlog" $KT produce "$BOOT" it0840.D.in "$TMP/D.tsv" --partitioned
start_one D a --until-idle 2s --end-of-input
wait "$PID_a"
check "D: spate run --until-idle 2s --end-of-input exits 0" [ $? -eq 0 ]
check "D: its last windows were emitted final at the end of the input" exact D
