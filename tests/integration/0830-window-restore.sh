#!/usr/bin/env bash
# 0830-window-restore.sh - a window's restore of many partitions at once, which
# its store (state/kv.c) pipelines (the changelog of partition i+1 is read
# while partition i's is written to RocksDB), then loads into memory. One tumbling window per key, 8 partitions, every key written
# once in each third of the records, each run `spate run --until-idle`:
#   1. the first third;
#   2. the state directory deleted: every partition restored from the
#      changelog alone, then the second third;
#   3. the state directory deleted again, no new records: the restore alone
#      writes RocksDB;
#   4. the state kept: every partition from what run 3's restore wrote, then
#      the last third.
# Each key's final output must count exactly its 3 records and sum their
# values: a window lost, doubled or put into another partition's task or
# column family by a restore shows up here. Then a changelog entry that does
# not decode must stop the instance as it is loaded, with the partition's error.
. "$SPATE_ROOT/tests/lib.sh"
K=${K_0830:-24000}
P=8

topology_header it-0830 "commit_interval: 500ms" >"$TMP/topo.yaml"
cat >>"$TMP/topo.yaml" <<EOF
nodes:
  - name: events
    type: kafka_source
    topic: it0830.in
    partitions: $P
    time: t
  - name: perkey
    type: window
    from: events
    window: tumbling
    size: 1h
    grace: 1000h
    aggregates:
      n: count()
      total: sum(v)
  - name: out
    type: kafka_sink
    from: perkey
    topic: it0830.out
    compacted: true
    partitions: 4
EOF
start_broker --topology "$TMP/topo.yaml" || { nok "broker starts"; exit 1; }
export SPATE_STATE_DIR=$TMP/state

# Keys in a shuffled order, each exactly once per K records: each third holds every key once.
$PY "$SPATE_ROOT/bench/gen_keys.py" $((3 * K)) "$K" "$TMP/in.tsv"
split -n l/3 -d "$TMP/in.tsv" "$TMP/part."

run() {  # N [PART]: produce PART (0, 1, 2) if given, then one instance until idle
        [ -z "${2:-}" ] || $KT produce "$BOOT" it0830.in "$TMP/part.0$2" 2>/dev/null
        "$SPATE_BIN" run "$TMP/topo.yaml" --until-idle 3s 2>"$TMP/run$1.log"
}

check "run 1: the first third ($K records, every key once)" run 1 0

rm -rf "$TMP/state"
check "run 2: state directory deleted, restore, the second third" run 2 1
# The store's line per partition: "... partition P restored: R changelog records applied in S s;
# input resumes at offset O; the local copy reflected the changelog up to offset L"; the
# window's: "window 'perkey' partition P restored: W windows in memory; ...".
restored() {  # LOG: "partitions local records busy groups"
        { sed -nE "s/.*store 'perkey' of 'perkey' partition [0-9]+ restored: ([0-9]+) changelog records.*up to offset ([0-9]+).*/S \1 \2/p" "$1"
          sed -nE "s/.*window 'perkey' partition [0-9]+ restored: ([0-9]+) windows in memory.*/W \1/p" "$1"; } |
                awk '$1 == "S" {p++; r += $2; l += $3; if ($2 > 0) busy++} $1 == "W" {g += $2}
                     END {print p + 0, l + 0, r + 0, busy + 0, g + 0}'
}
read -r parts local records busy groups < <(restored "$TMP/run2.log")
echo "# run 2: $parts partitions restored, local copies up to offsets summing $local, $records changelog records, $groups windows"
from_changelog() { [ "$parts" -eq "$P" ] && [ "$busy" -eq "$P" ] && [ "$local" -eq 0 ] && [ "$records" -ge "$K" ] &&
                   [ "$groups" -eq "$K" ]; }
check "run 2: all $P partitions restored from the changelog alone, each with records ($busy), every key's window in memory" from_changelog
total=$(grep -o "stores of 'perkey': $P tasks restored (pipelined): [0-9]* changelog records" "$TMP/run2.log" | awk '{print $8}')
check "run 2: one line for the whole restore, with the same total (${total:-none} of $records)" \
        [ "${total:-0}" -eq "$records" ]

rm -rf "$TMP/state"
check "run 3: state directory deleted, restore, no new records" run 3
check "run 3: no record consumed, so only the restore wrote windows to RocksDB" \
        grep -q "summary: .* read 0 records" "$TMP/run3.log"
check "run 4: state kept, restore, the last third" run 4 2
read -r parts local records busy groups < <(restored "$TMP/run4.log")
echo "# run 4: $parts partitions restored, local copies up to offsets summing $local, $records changelog records, $groups windows"
from_store() { [ "$parts" -eq "$P" ] && [ "$local" -gt 0 ] && [ "$groups" -eq "$K" ] && [ "$records" -eq 0 ]; }
check "run 4: every window loaded from what run 3's restore wrote to RocksDB ($groups of $K), no changelog record read" from_store

$KT consume "$BOOT" it0830.out --idle 1.5 >"$TMP/out.jsonl"
$PY - "$TMP/in.tsv" "$TMP/out.jsonl" <<'PY' >"$TMP/compare"
import json, sys
want = {}
for line in open(sys.argv[1]):
    key, value = line.rstrip("\n").split("\t")
    n, total = want.get(key, (0, 0.0))
    want[key] = (n + 1, total + json.loads(value)["v"])
latest = {}
for line in open(sys.argv[2]):
    m = json.loads(line)
    latest[m["key"]] = json.loads(m["value"]) if m["value"] is not None else None
got = {v["key"]: (v["n"], v["total"]) for v in latest.values() if v}
wrong = [k for k in want if k not in got or got[k][0] != want[k][0] or abs(got[k][1] - want[k][1]) > 1e-6]
extra = [k for k in got if k not in want]
print("%d %d %d %s" % (len(want), len(wrong), len(extra),
                       "; ".join("%s: got %s, want %s" % (k, got.get(k), want[k]) for k in wrong[:3])))
PY
read -r nwant nwrong nextra detail <"$TMP/compare"
exact() { [ "$nwant" -eq "$K" ] && [ "$nwrong" -eq 0 ] && [ "$nextra" -eq 0 ]; }
check "every key's window counts its 3 records and sums their values ($nwant keys, $nwrong wrong, $nextra unknown${detail:+: $detail})" exact
dl=$($KT count "$BOOT" it-0830-dlq)
check "nothing dead-lettered ($dl): no record reached a partition still being restored" [ "$dl" -eq 0 ]

# A commit whose entry does not decode, appended to the changelog of partition
# 3: the restore copies it, and the instance must stop as it loads it.
$PY - "$BOOT" it-0830-perkey-changelog 3 <<'PY'
import sys, uuid
from confluent_kafka import Consumer, Producer, TopicPartition
boot, topic, p = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": boot, "group.id": "it-" + uuid.uuid4().hex,
              "enable.auto.commit": False})
lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
c.assign([TopicPartition(topic, p, lo)])
entry = meta = None
while not (entry and meta):
    for m in c.consume(1000, 1.0):
        if not m.error() and m.value() is not None:
            if m.key() == b"\x00":   # the store's meta record (state/kv.h)
                meta = m.value()
            else:
                entry = m.key()
c.close()
pr = Producer({"bootstrap.servers": boot})
pr.produce(topic, key=entry, value=b"\xffnot an entry", partition=p)
pr.produce(topic, key=b"\x00", value=meta, partition=p)
pr.flush(10)
PY
rm -rf "$TMP/state"
"$SPATE_BIN" run "$TMP/topo.yaml" --until-idle 3s 2>"$TMP/run5.log"
rc=$?
# The restore copies bytes; the windows are decoded as the task loads them, which must stop the
# instance with the partition's error.
stopped() { [ "$rc" -ne 0 ] && grep -q "partition 3: reading its windows from its store: window entry" "$TMP/run5.log"; }
check "an entry that does not decode stops the instance as it is loaded (exit $rc: $(grep -o "window 'perkey' partition 3: reading.*" "$TMP/run5.log" | head -1 | cut -c1-120))" stopped
