#!/usr/bin/env bash
# 0890-window-larger-than-memory.sh - a window whose state is larger than
# `state_memory_mb` (winstate.h: Eviction): 60,000 keys, each with a window
# in each of two hours (hourly count and sum, emit: final, 8 partitions),
# under state_memory_mb: 4 (0.5 MB per task, while the open windows take
# ~15 MB). Clean keys leave memory after each commit and are read back from
# RocksDB; the hour-0 windows, mostly evicted, are closed by walks of the
# store once hour 1 begins. The instance dies twice without a shutdown:
# killed with SIGKILL once its tasks evict (hour 0 only in the input), and
# aborting itself (SPATE_CRASH_AT) while hour 0's windows are being closed
# and emitted; each restart restores lazily from its state directory. A last run
# ends the input (--end-of-input). Every window's final value must equal the
# reference computed here from the input (counts exactly, sums within 1e-6),
# no window may be missing or extra, nothing dead-lettered.
. "$SPATE_ROOT/tests/lib.sh"
K=${K_0890:-60000}
P=8

topology_header it-0890 "state_memory_mb: 4" >"$TMP/topo.yaml"
cat >>"$TMP/topo.yaml" <<EOF
nodes:
  - name: events
    type: kafka_source
    topic: it0890.in
    partitions: $P
    time: t
  - name: perkey
    type: window
    from: events
    window: tumbling
    size: 1h
    emit: final
    aggregates:
      n: count()
      total: sum(v)
  - name: out
    type: kafka_sink
    from: perkey
    topic: it0890.out
    partitions: $P
EOF
start_broker --topology "$TMP/topo.yaml" || { nok "broker starts"; exit 1; }
export SPATE_STATE_DIR=$TMP/state

# Every key once in hour 0, then once in hour 1, in a shuffled order.
$PY - "$K" "$TMP/in.tsv" <<'PY'
import random, sys
k, out = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(890)
keys = list(range(k))
rnd.shuffle(keys)
with open(out, "w") as f:
    for i in range(2 * k):
        t = 1700006400000 + (i // k) * 3600000 + (i % k) * 3600000 // k
        f.write('k%06d\t{"t":%d,"v":%.2f}\n' % (keys[i % k], t, rnd.uniform(0, 100)))
PY
split -l "$K" -d "$TMP/in.tsv" "$TMP/hour."

changelog() { $KT count "$BOOT" it-0890-perkey-changelog 2>/dev/null || echo 0; }
at_least() { [ "$($1)" -ge "$2" ]; }
outputs() { $KT count "$BOOT" it0890.out 2>/dev/null || echo 0; }

# Hour 0 alone first: its windows are counted (and evicted), none closes.
$KT produce "$BOOT" it0890.in "$TMP/hour.00" >/dev/null || { nok "hour 0 produced"; exit 1; }
t0=$SECONDS
start_spate a "$TMP/topo.yaml"
# A task logs its first eviction at the checkpoint after it.
evicting() { grep -q "state over .* MB (its share of state_memory_mb)" "$TMP/spate-a.log"; }
check "run 1: hour 0 under way, tasks evict keys to stay within state_memory_mb (killed with SIGKILL)" \
        wait_for 60 evicting
kill_spate a
n=$(changelog)
check "run 1: killed with hour 0's windows in the changelog ($n records)" [ "$n" -gt 0 ]
n=$(outputs)
check "run 1: no window closed yet, hour 0 still open ($n outputs)" [ "$n" -eq 0 ]

echo "# run 1: $((SECONDS - t0)) s"; t0=$SECONDS
# Then hour 1: each task's first hour-1 record closes its hour-0 windows.
$KT produce "$BOOT" it0890.in "$TMP/hour.01" >/dev/null || { nok "hour 1 produced"; exit 1; }
# The instance aborts itself as it emits the K/4-th window (a SIGKILL timed
# from outside could land after the last one: one commit may emit them all).
SPATE_CRASH_AT=mid_outputs SPATE_CRASH_AFTER_OUTPUTS=$((K / 4)) start_spate b "$TMP/topo.yaml"
aborted() { ! kill -0 "$SPATE_PID_b" 2>/dev/null; }
check "run 2: hour 0's windows closing and emitted, then an abort" wait_for 120 aborted
wait "$SPATE_PID_b" 2>/dev/null
check "run 2: the test hook's abort, at the $((K / 4))-th window" grep -q "SPATE_CRASH_AT=mid_outputs: aborting" "$TMP/spate-b.log"
n=$(outputs)
check "run 2: aborted mid-emission ($n of $K hour-0 windows in the output)" [ "$n" -lt "$K" ]
read -r parts lazy rest < <(grep -o "restored: [0-9]* windows in memory[^;]*" "$TMP/spate-b.log" |
        awk '{p++; e += $2; if (/the rest in its store/) r++} END {print p + 0, e + 0, r + 0}')
lazy_restore() { [ "$parts" -eq "$P" ] && [ "$lazy" -gt 0 ] && [ "$lazy" -lt "$K" ] && [ "$rest" -gt 0 ]; }
check "run 2: $parts partitions restored from the state directory, loading part of it ($lazy windows; the rest stays in RocksDB in $rest)" \
        lazy_restore

echo "# run 2: $((SECONDS - t0)) s"; t0=$SECONDS
"$SPATE_BIN" run "$TMP/topo.yaml" --until-idle 3s --end-of-input 2>"$TMP/run3.log"
check "run 3: to the end of the input (exit $?)" [ "$?" -eq 0 ]

echo "# run 3: $((SECONDS - t0)) s"; t0=$SECONDS
$KT consume "$BOOT" it0890.out --idle 1.5 >"$TMP/out.jsonl"
$PY - "$TMP/in.tsv" "$TMP/out.jsonl" <<'PY' >"$TMP/compare"
import json, sys
want = {}
for line in open(sys.argv[1]):
    key, value = line.rstrip("\n").split("\t")
    v = json.loads(value)
    w = (key, v["t"] - v["t"] % 3600000)
    n, total = want.get(w, (0, 0.0))
    want[w] = (n + 1, total + v["v"])
latest = {}
for line in open(sys.argv[2]):
    m = json.loads(line)
    latest[m["key"]] = json.loads(m["value"]) if m["value"] is not None else None
got = {(v["key"], v["window_start"]): (v["n"], v["total"]) for v in latest.values() if v}
wrong = [w for w in want if w not in got or got[w][0] != want[w][0] or abs(got[w][1] - want[w][1]) > 1e-6]
extra = [w for w in got if w not in want]
print("%d %d %d %s" % (len(want), len(wrong), len(extra),
                       "; ".join("%s: got %s, want %s" % (w, got.get(w), want[w]) for w in wrong[:3])))
PY
read -r nwant nwrong nextra detail <"$TMP/compare"
exact() { [ "$nwant" -eq $((2 * K)) ] && [ "$nwrong" -eq 0 ] && [ "$nextra" -eq 0 ]; }
check "every window counts and sums its records ($nwant windows, $nwrong wrong, $nextra unknown${detail:+: $detail})" exact
dl=$($KT count "$BOOT" it-0890-dlq)
check "nothing dead-lettered ($dl)" [ "$dl" -eq 0 ]
