#!/usr/bin/env bash
# winstore_restore.sh - the lazy restore of bench/winstore.sh alone, repeated: WINSTORE_KEYS keys
# (10,000,000) in WINSTORE_PARTITIONS (128) are written to the changelog by a run that keeps them
# all in memory (state_memory_mb: 4096, fast: winstore.sh's run under 256 MB evicts and takes
# many minutes), then ROUNDS (2) restores with the state directory deleted, each under
# state_memory_mb: WINSTORE_MB (256) as in winstore.sh. With SPATE_BIN_BASE set, each round runs
# that binary too, right before SPATE_BIN: the machine is shared, so two binaries compare best
# close in time and by the CPU seconds the restore line reports as well as its wall time.
#
# usage: SPATE_BIN=bin/spate [SPATE_BIN_BASE=other/spate] bench/winstore_restore.sh
# env: WINSTORE_KEYS, WINSTORE_MB, WINSTORE_PARTITIONS, ROUNDS, BENCH_PORT (bench/lib.sh)
. "$(dirname "$0")/lib.sh"
K=${WINSTORE_KEYS:-10000000}
MB=${WINSTORE_MB:-256}
P=${WINSTORE_PARTITIONS:-128}
ROUNDS=${ROUNDS:-2}

# winstore.sh's topology, one application for both: they read one changelog.
winstore_topology write wsr "$P" 4096
winstore_topology restore wsr "$P" "$MB"
start_broker --topology "$TMP/write.yaml" || exit 1

echo "== $K keys to the changelog (state in memory), $P partitions"
$PY bench/gen_keys.py "$K" "$K" "$TMP/in.tsv"
$KT produce "$SPATE_BOOTSTRAP" wsr.keys "$TMP/in.tsv" >/dev/null || exit 1
rm -f "$TMP/in.tsv"
# Until the window consumed every key: a run on a loaded machine can go idle early.
consumed=0
while [ "$consumed" -lt "$K" ]; do
        SPATE_STATE_DIR=$TMP/state-write "$SPATE_BIN" run "$TMP/write.yaml" --until-idle 30s \
                2>"$TMP/write.log" || { tail "$TMP/write.log"; exit 1; }
        n=$(sed -nE 's/.*throughput: ([0-9]+) records in.*/\1/p' "$TMP/write.log" | tail -1)
        [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "the write run consumed nothing"; exit 1; }
        consumed=$((consumed + n))
done
rm -rf "$TMP/state-write"

restore() {  # BIN LABEL: one restore, state directory deleted
        rm -rf "$TMP/state-restore"
        load=$(cut -d' ' -f1 /proc/loadavg)
        SPATE_STATE_DIR=$TMP/state-restore timed \
                "$1" run "$TMP/restore.yaml" --until-idle 1s 2>"$TMP/restore.log" || { tail "$TMP/restore.log"; exit 1; }
        $PY - "$TMP/restore.log" "$2" "$T_RSS" "$load" <<'PY'
import re, sys
log, label, rss, load = sys.argv[1:]
# The store's line ("tasks restored (pipelined)"); binaries before the window ran on a store
# logged "restored N partitions".
m = re.search(r"(?:restored \d+ partitions|tasks restored \(pipelined\)): (\d+) changelog records applied "
              r"in ([0-9.]+) s", open(log).read())
if not m:
    sys.exit("no restore line in " + log)
n, secs = int(m.group(1)), float(m.group(2))
c = re.search(r"; ([0-9.]+) s of CPU", m.string[m.end():].split("\n")[0])
cpu = ", %s s of CPU = %.0f records per CPU second" % (c.group(1), n / float(c.group(1))) if c else ""
print("RESULT window lazy restore (%s): %d records in %.3f s = %.0f records/s%s, peak RSS %d MB, load %s"
      % (label, n, secs, n / secs if secs > 0 else 0, cpu, int(rss) // 1024, load))
PY
}
for r in $(seq "$ROUNDS"); do
        echo "== round $r: restore of $K keys under state_memory_mb: $MB"
        [ -z "${SPATE_BIN_BASE:-}" ] || restore "$SPATE_BIN_BASE" base
        restore "$SPATE_BIN" spate
done
