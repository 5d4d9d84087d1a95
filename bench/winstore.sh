#!/usr/bin/env bash
# winstore.sh - window state larger than memory (winstate.h: Eviction) on the embedded broker:
# one tumbling window per key that nothing closes (bench/restore.yaml's job), each key written
# once, run twice:
#   1. WINSTORE_MEM_KEYS keys (1,000,000) with state_memory_mb: 4096 - every key in memory;
#   2. WINSTORE_KEYS keys (10,000,000) with state_memory_mb: WINSTORE_MB (256) - clean keys
#      evicted to RocksDB after each commit;
# each: peak RSS (/usr/bin/time) and window updates/s (the engine's throughput line, first to
# last record). Then run 2's state directory is deleted and a third run restores every task
# from the changelog into RocksDB (the windows stay there, read when needed):
# the restore rate (the window's store's "N tasks restored (pipelined)" line) and its peak RSS. Then a
# sample of keys is checked: the restored state (read back from RocksDB through the window)
# must count each key's record once - a fourth run ends the input and the outputs of the
# sampled keys' windows are compared with the input.
#
# usage: SPATE_BIN=bin/spate bench/winstore.sh   (make bench runs it)
# env: WINSTORE_KEYS, WINSTORE_MEM_KEYS, WINSTORE_MB, WINSTORE_PARTITIONS (128), BENCH_PORT (bench/lib.sh)
. "$(dirname "$0")/lib.sh"
K=${WINSTORE_KEYS:-10000000}
KM=${WINSTORE_MEM_KEYS:-1000000}
MB=${WINSTORE_MB:-256}
# The embedded broker keeps ~5 MB per partition: enough partitions keep input and changelog whole.
P=${WINSTORE_PARTITIONS:-128}

winstore_topology ws-mem ws-mem "$P" 4096
winstore_topology ws-disk ws-disk "$P" "$MB"
start_broker --topology "$TMP/ws-mem.yaml" --topology "$TMP/ws-disk.yaml" || exit 1

rate() { sed -nE 's/.*throughput: .*= ([0-9]+) records\/s.*/\1/p' "$1" | tail -1; }

run_keys() {  # APP KEYS: produce KEYS records (each key once), run until idle; "rss_kb updates/s"
        $PY bench/gen_keys.py "$2" "$2" "$TMP/$1.tsv"
        $KT produce "$SPATE_BOOTSTRAP" "$1.keys" "$TMP/$1.tsv" >/dev/null || exit 1
        SPATE_STATE_DIR=$TMP/state-$1 timed \
                "$SPATE_BIN" run "$TMP/$1.yaml" --until-idle 30s 2>"$TMP/run-$1.log" || { tail "$TMP/run-$1.log"; exit 1; }
        echo "$T_RSS $(rate "$TMP/run-$1.log")"
}

echo "== $KM keys in memory (state_memory_mb: 4096), $P partitions"
read -r rss_mem ups_mem < <(run_keys ws-mem "$KM")
echo "peak RSS $((rss_mem / 1024)) MB, $ups_mem updates/s"
rm -rf "$TMP/state-ws-mem" "$TMP/ws-mem.tsv"

echo "== $K keys under state_memory_mb: $MB, $P partitions"
read -r rss_disk ups_disk < <(run_keys ws-disk "$K")
evicting=$(grep -c "keys written at their commit leave memory" "$TMP/run-ws-disk.log")
echo "peak RSS $((rss_disk / 1024)) MB, $ups_disk updates/s; $evicting of $P tasks evicted"

echo "== restore of $K keys from the changelog (state directory deleted)"
rm -rf "$TMP/state-ws-disk"
SPATE_STATE_DIR=$TMP/state-ws-disk timed \
        "$SPATE_BIN" run "$TMP/ws-disk.yaml" --until-idle 1s 2>"$TMP/restore.log" || { tail "$TMP/restore.log"; exit 1; }
rss_restore=$T_RSS
read -r total secs < <(sed -nE 's/.*tasks restored \(pipelined\): ([0-9]+) changelog records applied in ([0-9.]+) s.*/\1 \2/p' \
        "$TMP/restore.log" | awk '{n += $1; s += $2} END {print n + 0, s + 0}')
cpu=$(sed -nE 's/.*tasks restored \(pipelined\): .*; ([0-9.]+) s of CPU.*/\1/p' "$TMP/restore.log" |
        awk '{c += $1} END {print c + 0}')

echo "== end of input: every window closes; the outputs of a sample of keys against the input"
SPATE_STATE_DIR=$TMP/state-ws-disk timed \
        "$SPATE_BIN" run "$TMP/ws-disk.yaml" --until-idle 30s --end-of-input 2>"$TMP/end.log" || { tail "$TMP/end.log"; exit 1; }
rss_end=$T_RSS wall_end=$T_WALL
$KT consume "$SPATE_BOOTSTRAP" ws-disk.out --idle 2 >"$TMP/out.jsonl"
$PY - "$TMP/ws-disk.tsv" "$TMP/out.jsonl" "$K" <<'PY'
import json, sys
tsv, out, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
want = {}
with open(tsv) as f:
    for line in f:
        key, value = line.rstrip("\n").split("\t")
        if hash(key) % 100 == 0:   # a 1% sample
            want[key] = json.loads(value)["v"]
got, n = {}, 0
with open(out) as f:
    for line in f:
        n += 1
        m = json.loads(line)
        v = json.loads(m["value"])
        if v["key"] in want:
            got[v["key"]] = (v["n"], v["total"])
bad = [key for key in want if got.get(key, (0, 0))[0] != 1 or abs(got[key][1] - want[key]) > 1e-6]
print("outputs: %d windows (want %d); sample of %d keys: %d wrong" % (n, k, len(want), len(bad)))
print("RESULT window state exact: %s (%d outputs of %d keys, %d of a %d-key sample wrong)"
      % ("yes" if n >= k and not bad else "NO", n, k, len(bad), len(want)))
PY
echo "end of input: $wall_end s, peak RSS $((rss_end / 1024)) MB"
$PY - "$K" "$MB" "$rss_disk" "$ups_disk" "$KM" "$rss_mem" "$ups_mem" "$total" "$secs" "$rss_restore" "$cpu" <<'PY'
import sys
k, mb, rss, ups, km, rss_m, ups_m, total, secs, rss_r, cpu = sys.argv[1:]
k, km, total = int(k), int(km), int(total)
print("RESULT window state larger than memory: %d live keys under state_memory_mb %s: peak RSS %d MB "
      "(goal <= 1024), %s updates/s; %d keys in memory: peak RSS %d MB, %s updates/s"
      % (k, mb, int(rss) // 1024, ups, km, int(rss_m) // 1024, ups_m))
print("RESULT window lazy restore: %d changelog records in %s s = %.0f records/s (goal >= 500000), peak RSS %d MB; "
      "%s s of CPU = %.0f records per CPU second"
      % (total, secs, total / float(secs) if float(secs) > 0 else 0, int(rss_r) // 1024, cpu,
         total / float(cpu) if float(cpu) > 0 else 0))
PY
