# lib.sh - the preamble every bench script (bench/*.sh) sources first: it moves to the repository's
# root, checks SPATE_BIN (SPATE_BENCH_BIN defaults to build/bench) and builds on tests/lib.sh: $TMP
# (removed at exit unless KEEP_TMP is set), bg (processes stopped at exit), start_broker, wait_for,
# free_port, on_exit, committed_records, $PY and $KT. Adds each bench's own ports (PORT),
# `timed`, a command's CPU time and peak RSS, and winstore_topology (winstore.sh and
# winstore_restore.sh).
cd "$(dirname "$0")/.." || exit 1
: "${SPATE_BIN:?run through make bench, or set SPATE_BIN to the spate binary}"
export SPATE_ROOT=$PWD SPATE_BENCH_BIN=${SPATE_BENCH_BIN:-$PWD/build/bench}
. tests/lib.sh
# tests/lib.sh sets the group timings of the tests' brokers: a bench runs with its topology's own
# (standby.sh sets them for its failover).
unset SPATE_SESSION_TIMEOUT_MS SPATE_HEARTBEAT_MS

# PORT: the first of this bench's 10 ports: start_broker's 3 brokers listen on PORT to PORT + 2,
# whatever else the bench serves on the next ones. Free ones (the machine may be shared); with
# BENCH_PORT set, fixed: each bench its own 10 from there, since bench/run.sh calls the others
# while its broker runs.
case $(basename "$0" .sh) in
run) PORT=0 ;; restore_bench) PORT=10 ;; dedupe) PORT=20 ;; winstore) PORT=30 ;;
winstore_restore) PORT=40 ;; standby) PORT=50 ;; iq) PORT=60 ;; metrics) PORT=70 ;; mqtt) PORT=80 ;;
poll) PORT=90 ;; archive) PORT=100 ;; join) PORT=110 ;; sql) PORT=120 ;;
*) echo "bench/lib.sh: no ports for $0: give it its 10 in bench/lib.sh" >&2; exit 1 ;;
esac
if [ -n "${BENCH_PORT:-}" ]; then PORT=$((BENCH_PORT + PORT)); else PORT=$(free_port 10); fi
BROKER_PORT=$PORT

# timed COMMAND...: runs it under /usr/bin/time and returns its status; sets T_USER and T_SYS (CPU
# seconds), T_RSS (its peak RSS, KB) and T_WALL (seconds).
timed() {
        local rc
        /usr/bin/time -f "%U %S %M %e" -o "$TMP/.timed" "$@"
        rc=$?
        read -r T_USER T_SYS T_RSS T_WALL < <(tail -1 "$TMP/.timed")
        return $rc
}

# winstore_topology NAME APP PARTITIONS MB: writes $TMP/NAME.yaml, bench/restore.yaml's job (a
# window per key that nothing closes) as application APP over PARTITIONS partitions, reading
# APP.keys and writing APP.out, under state_memory_mb: MB. Prefetch is bounded at 16 MB of input:
# these records are ~45 bytes, so the default 64 MB is ~1.4M messages, whose librdkafka overhead
# (not counted in the bound) held ~1 GB once the window was slower than the fetch (measured: 1.55
# GB RSS, three broker threads' malloc arenas ~330 MB each).
winstore_topology() {
        sed -e "s/^application: .*/application: $2/" -e "s/partitions: 16/partitions: $3/" \
            -e "s/topic: bench.keys/topic: $2.keys/" -e "s/topic: bench.perkey/topic: $2.out\n    partitions: $3/" \
            -e "s/^  state_memory_mb: .*/  state_memory_mb: $4/" \
            -e "s/^  consumer.heartbeat.interval.ms: .*/&\n  consumer.queued.max.messages.kbytes: 16384/" \
            bench/restore.yaml >"$TMP/$1.yaml"
}
