#!/usr/bin/env bash
# standby.sh - failover with and without a standby replica (num_standby_replicas) on the
# embedded broker: two instances of bench/standby.yaml (`dedupe` over 16 partitions of
# 2*STANDBY_KEYS unique ids, so the instance that will fail holds STANDBY_KEYS keys in its 8
# tasks), or with STANDBY_NODE=window of bench/standby_window.yaml (a tumbling window per id:
# STANDBY_KEYS windows in the failed tasks); once every record is processed (a probe record closes each partition) and the
# survivor's standby caught up, the other instance is killed with SIGKILL and a new probe
# goes to every partition. Prints, per mode, the time from the kill to the survivor's
# assignment (the group's session timeout, 4 s, and the rebalance), its restore (records read,
# seconds), and the time to resumed output: all 16 new probes written by the survivor (its
# /metrics, polled every 50 ms).
#
# usage: SPATE_BIN=bin/spate bench/standby.sh
# env: STANDBY_KEYS (1000000), STANDBY_NODE (dedupe or window), BENCH_PORT (bench/lib.sh)
. "$(dirname "$0")/lib.sh"
K=${STANDBY_KEYS:-1000000}
case ${STANDBY_NODE:-dedupe} in
dedupe) YAML=bench/standby.yaml ;;
window) YAML=bench/standby_window.yaml ;;
*) echo "STANDBY_NODE: dedupe or window" >&2; exit 1 ;;
esac
export SPATE_SESSION_TIMEOUT_MS=4000 SPATE_HEARTBEAT_MS=500
WAIT_STEP=0.05   # wait_for's: the times from the kill are measured by waits

for m in 1 0; do
        sed -e "s/\${STANDBY_APP:-bench-standby}/bench-standby-$m/" -e "s/\${STANDBY_N:-1}/$m/" \
                "$YAML" >"$TMP/standby-$m.yaml"
done
start_broker --topology "$TMP/standby-1.yaml" --topology "$TMP/standby-0.yaml" || exit 1

probes() {  # FILE TAG: one probe record per partition
        for p in $(seq 0 15); do printf '%d\tprobe-%s-%d\t{"id":"probe-%s-%d","t":1700000000000,"probe":true}\n' \
                "$p" "$2" "$p" "$2" "$p"; done >"$1"
}
echo "== $YAML: producing $((2 * K)) unique ids over 16 partitions"
$PY - "$K" "$TMP/in.tsv" <<'PY'
import sys
k, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(2 * k):
        f.write('%d\tk%08d\t{"id":"k%08d","t":%d,"probe":false}\n' % (i % 16, i, i, 1700000000000 + i))
PY
probes "$TMP/probes.tsv" first
cat "$TMP/probes.tsv" >>"$TMP/in.tsv"
$KT produce "$SPATE_BOOTSTRAP" bench.standby "$TMP/in.tsv" --partitioned || exit 1
TOTAL=$(wc -l <"$TMP/in.tsv")

hold() { grep "assigned [0-9]* partitions" "$TMP/$1.log" | tail -1 | grep -q "assigned $2 partitions"; }
outputs() { [ "$($KT count "$SPATE_BOOTSTRAP" "bench-standby-$m.out")" -ge "$1" ]; }
lag() {  # the survivor's standbys' lag, summed (0: caught up)
        curl -s "http://127.0.0.1:$HTTP/metrics" | awk '/^spate_standby_lag_records/ { s += $NF } END { print s + 0 }'
}
caught_up() { [ "$m" = 0 ] || [ "$(lag)" = 0 ]; }
took_over() { tail -n +$((lines + 1)) "$TMP/b-$m.log" | grep -q "assigned 16 partitions"; }
written() {  # the survivor's sink wrote at least N records (its /metrics: no broker round trip)
        [ "$(curl -s "http://127.0.0.1:$HTTP/metrics" |
                sed -n 's/^spate_node_records_out_total{node="out"} //p')" -ge "$1" ] 2>/dev/null
}
now() { date +%s.%N; }

for m in 1 0; do
        echo "== num_standby_replicas: $m"
        HTTP=$((PORT + 3 + m))
        bg env SPATE_STATE_DIR="$TMP/state-a-$m" "$SPATE_BIN" run "$TMP/standby-$m.yaml" 2>"$TMP/a-$m.log"
        a=${_pids[-1]}
        wait_for 60 hold "a-$m" 16 || { echo "a did not join"; exit 1; }
        bg env SPATE_STATE_DIR="$TMP/state-b-$m" "$SPATE_BIN" run "$TMP/standby-$m.yaml" --http 127.0.0.1:$HTTP \
                2>"$TMP/b-$m.log"
        b=${_pids[-1]}
        wait_for 60 hold "a-$m" 8 || { echo "a and b did not share the partitions"; exit 1; }
        wait_for 600 outputs 16 || { echo "the input was not processed within 600 s"; exit 1; }
        # every input record's offset committed: its state is in the changelog
        wait_committed 120 "bench-standby-$m" bench.standby "$TOTAL" || { echo "offsets not committed within 120 s"; exit 1; }
        wait_for 120 caught_up || { echo "b's standbys did not catch up within 120 s (lag $(lag))"; exit 1; }
        lines=$(wc -l <"$TMP/b-$m.log")
        failed=$(grep "assigned 8 partitions" "$TMP/a-$m.log" | tail -1 | grep -o "\[[0-9]*\]" | tr -d '[]' | tr '\n' ' ')
        before=$(curl -s "http://127.0.0.1:$HTTP/metrics" | sed -n 's/^spate_node_records_out_total{node="out"} //p')
        kill -KILL "$a"
        t_kill=$(now)
        wait "$a" 2>/dev/null
        probes "$TMP/probes2.tsv" "after-$m"
        $KT produce "$SPATE_BOOTSTRAP" bench.standby "$TMP/probes2.tsv" --partitioned 2>/dev/null
        wait_for 120 took_over || {
                echo "b did not take over within 120 s$(kill -0 "$b" 2>/dev/null || echo ' (b exited)'); b's log ends:"
                tail -n 5 "$TMP/b-$m.log"
                exit 1
        }
        wait_for 120 written $((before + 16)) || { echo "no resumed output within 120 s"; exit 1; }
        t_out=$(now)
        kill -TERM "$b"; wait "$b" 2>/dev/null
        tail -n +$((lines + 1)) "$TMP/b-$m.log" | $PY -c '
import re, sys
from datetime import datetime
k, o, m = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
failed = set(sys.argv[4].split())
log = sys.stdin.read()
at = lambda ts: datetime.fromisoformat(ts.rstrip("Z") + "+00:00").timestamp()
a = at(re.search(r"^(\S+) INFO  run: assigned 16 partitions", log, re.M).group(1))
r = max(at(t) for t in re.findall(r"^(\S+) INFO  run: (?:store|window) .* restored:", log, re.M))
rows = [(int(x), float(y), int(z)) for p, x, y, z in re.findall(
        r"partition (\d+) restored: (?:\d+ entries from the store, )?(\d+) changelog records applied "
        r"(?:\(\d+ ignored\) )?in ([0-9.]+) s.*?up to offset (\d+)", log) if p in failed]
read, secs, local = sum(r[0] for r in rows), sum(r[1] for r in rows), sum(r[2] for r in rows)
print("num_standby_replicas %d: the restore of the failed instance\x27s 8 partitions read %d changelog records in %.2f s "
      "(%d were in the local copy); from the kill: assigned after %.2f s, every task restored after %.2f s, "
      "output resumed after %.2f s: %.2f s after the assignment"
      % (m, read, secs, local, a - k, r - k, o - k, o - a))' "$t_kill" "$t_out" "$m" "$failed"
done
