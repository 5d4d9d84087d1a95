#!/usr/bin/env bash
# restore_bench.sh - window state at scale on the embedded broker: bench/restore.yaml
# (one tumbling window per key, nothing closes) runs over N records with K distinct keys,
# which measures the peak RSS of K live keys; then the state directory is deleted and a
# second run restores every task from the changelog (K entries), which measures the
# restore rate as a user sees it: records restored / wall time of the whole restore, from
# the window's store's "N tasks restored (pipelined): ..." line (state/kv.c: first restore's
# start to last write's end); the per-partition "restored: ..." lines give each partition's
# own rate, the window's lines how many windows each task loaded into memory after it;
# "ready" is the time from the assignment to the last task's windows in memory, by the
# log's clock (what a failover waits before the window takes input again).
#
# usage: SPATE_BIN=bin/spate bench/restore_bench.sh   (make bench runs it)
# env: RESTORE_N (1000000 records), RESTORE_KEYS (1000000), BENCH_PORT (bench/lib.sh)
. "$(dirname "$0")/lib.sh"
N=${RESTORE_N:-1000000}
K=${RESTORE_KEYS:-1000000}
TOPIC=bench-restore-perkey-changelog

start_broker --topology bench/restore.yaml || exit 1
export SPATE_STATE_DIR=$TMP/state

echo "== window state: $N records over $K keys (16 partitions, lz4)"
$PY bench/gen_keys.py "$N" "$K" "$TMP/in.tsv"
$KT produce "$SPATE_BOOTSTRAP" bench.keys "$TMP/in.tsv" || exit 1
timed "$SPATE_BIN" run bench/restore.yaml --until-idle 3s 2>"$TMP/run.log" || { tail "$TMP/run.log"; exit 1; }
rss1=$T_RSS
grep throughput "$TMP/run.log" | sed 's/.*throughput/processing: throughput/'

# The embedded broker drops a partition's oldest data past ~5 MB: a low
# watermark above 0 would mean the restore reads less than the state holds.
$PY - "$SPATE_BOOTSTRAP" "$TOPIC" >"$TMP/wm" <<'PY' || { cat "$TMP/wm"; exit 1; }
import sys, uuid
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "wm-" + uuid.uuid4().hex})
parts = c.list_topics(timeout=10).topics[sys.argv[2]].partitions
wm = [c.get_watermark_offsets(TopicPartition(sys.argv[2], p), timeout=10) for p in sorted(parts)]
c.close()
print("changelog: %d records in %d partitions (%d to %d each), lowest offset kept %d"
      % (sum(h - l for l, h in wm), len(wm), min(h for _, h in wm), max(h for _, h in wm), max(l for l, _ in wm)))
sys.exit(1 if any(l for l, _ in wm) else 0)
PY
cat "$TMP/wm"

echo "== restore from the changelog (state directory deleted)"
rm -rf "$TMP/state"
timed "$SPATE_BIN" run bench/restore.yaml --until-idle 1s 2>"$TMP/restore.log" || { tail "$TMP/restore.log"; exit 1; }
rss2=$T_RSS
$PY - "$TMP/restore.log" "$K" "$rss1" "$rss2" <<'PY'
import re, sys
from datetime import datetime
log, k, rss1, rss2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
text = open(log).read()
rows = [(int(m.group(1)), float(m.group(2)))
        for m in re.finditer(r"partition \d+ restored: (\d+) changelog records applied in ([0-9.]+) s", text)]
windows = sum(int(g) for g in re.findall(r"window '\S+' partition \d+ restored: (\d+) windows in memory", text))
if not rows:
    sys.exit("no 'restored:' lines in " + log)
bursts = [(int(m.group(1)), float(m.group(2))) for m in re.finditer(
    r"tasks restored \(pipelined\): (\d+) changelog records applied in ([0-9.]+) s", text)]
cpu = sum(float(c) for c in re.findall(r"tasks restored \(pipelined\): .*; ([0-9.]+) s of CPU", text))
if not bursts:
    sys.exit("no 'N tasks restored (pipelined):' line in " + log)
applied, secs = sum(r[0] for r in rows), sum(r[1] for r in rows)
total, wall = sum(b[0] for b in bursts), sum(b[1] for b in bursts)
rates = sorted(r[0] / r[1] for r in rows if r[1] > 0)
stamp = lambda line: datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
lines = text.splitlines()
assigned = next(l for l in lines if re.search(r" assigned \d+ partitions", l))
ready = [l for l in lines if re.search(r"window '\S+' partition \d+ restored:", l)][-1]
ready = (stamp(ready) - stamp(assigned)).total_seconds()
print("restore: %d records in %d partitions in %.2f s of wall time; per partition (its own read and write) "
      "%.0f records/s (slowest %.0f, fastest %.0f); %d windows restored (expected %d); peak RSS %d MB"
      % (total, len(rows), wall, applied / secs, rates[0], rates[-1], windows, k, rss2 // 1024))
print("RESULT window restore: %.0f changelog records/s, all partitions over the restore's wall time "
      "(goal >= 500000); %.2f s of CPU = %.0f records per CPU second (the machine's load moves the "
      "wall time, less the CPU)" % (total / wall, cpu, total / cpu if cpu > 0 else 0))
print("RESULT window ready: every window in memory %.2f s after the assignment (%.0f windows/s: the "
      "restore and the windows' load into memory)" % (ready, windows / ready))
print("RESULT window memory: %d live keys, peak RSS %d MB while processing = %.0f bytes/key (RocksDB and "
      "librdkafka buffers included)" % (k, rss1 // 1024, rss1 * 1024.0 / k))
PY
