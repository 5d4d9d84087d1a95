# lib.sh - shared helpers for integration tests: TAP output, free ports, an
# isolated embedded broker per test, waiting for conditions, cleanup on exit.
set -u
: "${SPATE_BIN:?run through make test}"
PY=/usr/bin/python3
KT="$PY $SPATE_ROOT/tests/tools/kafka_tool.py"
TMP=$(mktemp -d /tmp/spate-it.XXXXXX)
_tap_n=0
_pids=()
_on_exit=()

ok()   { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
nok()  { _tap_n=$((_tap_n + 1)); echo "not ok $_tap_n - $*"; }
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }

# on_exit COMMAND...: run at cleanup (servers a test started, e.g. tests/pg.sh's).
on_exit() { _on_exit+=("$*"); }

# Under make asan (SPATE_ASAN), every process writes its sanitizer reports to
# $TMP/sanitizer.<pid> rather than into a log nobody reads; cleanup prints them
# and fails the test. Processes get time to stop, so their leaks are checked.
if [ -n "${SPATE_ASAN:-}" ]; then
        export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$TMP/sanitizer"
        export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$TMP/sanitizer"
fi

# gcc's UBSan ignores log_path: its reports go to the process's stderr, the
# test's logs (a report stops the process: -fno-sanitize-recover).
sanitizer_reports() {
        local f
        for f in "$TMP"/sanitizer.*; do
                [ -f "$f" ] || continue
                nok "sanitizer report of pid ${f##*.}: $(grep -m1 -E 'ERROR|runtime error' "$f")"
                sed 's/^/# /' "$f" | head -60
        done
        [ -n "${SPATE_ASAN:-}" ] || return 0
        for f in $(grep -l -E "^[^ ]+:[0-9]+:[0-9]+: runtime error: " "$TMP"/*.log 2>/dev/null); do
                nok "UBSan report in ${f##*/}: $(grep -m1 -E 'runtime error: ' "$f")"
                grep -m1 -A12 -E 'runtime error: ' "$f" | sed 's/^/# /'
        done
}

# SPATE_TEST_DUMP=DIR: at cleanup, while the broker still runs, every changelog topic is
# copied to DIR/<test>/ (kafka_tool.py dump; bench/winlayout.sh reads the window's).
cleanup() {
        local i p alive tries=2
        [ -n "${SPATE_TEST_DUMP:-}" ] && [ -n "${BOOT:-}" ] &&
                $KT dump "$BOOT" -changelog "$SPATE_TEST_DUMP/$(basename "$0" .sh)"
        [ -n "${SPATE_ASAN:-}" ] && tries=75
        for p in "${_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
        for ((i = 0; i < tries; i++)); do
                alive=0
                for p in "${_pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
                [ $alive -eq 0 ] && break
                sleep 0.2
        done
        for p in "${_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
        for c in "${_on_exit[@]}"; do eval "$c"; done
        [ -n "${SPATE_ASAN:-}" ] && sanitizer_reports
        [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

bg() { "$@" & _pids+=($!); }

# A free base port with `n` free ports after it, below the kernel's ephemeral range: there an
# outgoing connection (a Kafka client, curl) may take the port between this test and the
# server's start (0470's restarted instance once found its port taken, in a full CI run).
free_port() {
        local n=${1:-1}
        $PY - "$n" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
top = low - n if low - n > 12000 else 60000 - n
for _ in range(200):
    base = random.randint(10000, top)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

# gone PID: the process has exited.
gone() { ! kill -0 "$1" 2>/dev/null; }

wait_for() {  # seconds, command...: tried every WAIT_STEP s (0.2)
        local t=$1; shift
        local end=$((SECONDS + t))
        while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep "${WAIT_STEP:-0.2}"; done
        return 1
}

# start_broker [spate broker args...]: an embedded broker of 3 on free ports, or from BROKER_PORT
# where it is set (a bench's own, bench/lib.sh); sets BOOT and exports SPATE_BOOTSTRAP.
start_broker() {
        local port=${BROKER_PORT:-}
        [ -n "$port" ] || port=$(free_port 3)
        bg "$SPATE_BIN" broker --listen "127.0.0.1:$port" --brokers 3 "$@" >"$TMP/broker.out" 2>"$TMP/broker.log"
        # It prints its address once every topic is created (two a second under ASan on a busy
        # machine: 0840's took over 10 s): wait for that while it runs, 120 s if it hangs.
        wait_for 120 bash -c "grep -q 127.0.0.1 '$TMP/broker.out' || ! kill -0 ${_pids[-1]} 2>/dev/null"
        grep -q 127.0.0.1 "$TMP/broker.out" || { echo "# broker did not start"; cat "$TMP/broker.log"; return 1; }
        BOOT=$(head -1 "$TMP/broker.out")
        export SPATE_BOOTSTRAP=$BOOT
}

# start_spate NAME TOPOLOGY [VAR=value...]: runs `spate run` in the background, with the VARs in its
# environment, pid in SPATE_PID_<NAME>, log appended to $TMP/spate-NAME.log
start_spate() {
        local name=$1 topo=$2
        shift 2
        env "$@" "$SPATE_BIN" run "$topo" 2>>"$TMP/spate-$name.log" &
        _pids+=($!)
        eval "SPATE_PID_$name=$!"
}

# kill_spate NAME: SIGKILL to the instance start_spate started as NAME; returns once it is gone.
kill_spate() { eval "kill -KILL \$SPATE_PID_$1; wait \$SPATE_PID_$1" 2>/dev/null; }

# log_mark NAME: remembers how many lines instance NAME's log has now (0 before its first start);
# log_since NAME: the lines it logged after that mark.
log_mark() { eval "_LOG_MARK_$1=$( { wc -l <"$TMP/spate-$1.log"; } 2>/dev/null || echo 0)"; }
log_since() { tail -n +$(($(eval "echo \${_LOG_MARK_$1:-0}") + 1)) "$TMP/spate-$1.log"; }

# partitions_held NAME: how many partitions the last assignment instance NAME logged gave it.
partitions_held() { grep -o "assigned [0-9]* partitions" "$TMP/spate-$1.log" | tail -1 | grep -o "[0-9]*"; }

# holds_partitions N NAME...: the last assignment each instance NAME logged gave it N partitions.
holds_partitions() {
        local n=$1 name; shift
        for name in "$@"; do
                [ "$(partitions_held "$name")" = "$n" ] || return 1
        done
}

# start_with_state NAME TOPOLOGY [VAR=value...]: instance NAME with its own state directory
# ($TMP/state-NAME) and the VARs in its environment, its log marked first (log_since NAME: what it
# logged since); joined NAME: that start has been assigned partitions; delete_state NAME: its
# state directory goes (while it is down).
start_with_state() {
        touch "$TMP/spate-$1.log"
        log_mark "$1"
        start_spate "$1" "$2" SPATE_STATE_DIR="$TMP/state-$1" "${@:3}"
}
joined() { log_since "$1" | grep -q "assigned [1-9][0-9]* partitions"; }
delete_state() { rm -rf "$TMP/state-$1"; }

# produce_parts TOPIC FILE...: kafka_tool produce --partitioned of each file in turn, a second
# apart (input that flows while instances are killed); run it in the background.
produce_parts() {
        local topic=$1 f; shift
        for f in "$@"; do
                $KT produce "$BOOT" "$topic" "$f" --partitioned >/dev/null || return 1
                sleep 1
        done
}

# kill_at_random [--ready CMD] [--then CMD] MIN SPAN: after MIN s and a random part of SPAN more,
# kill_spate to instance a or b, picked at random, which then starts again: the test defines
# `start NAME` (which starts the instance NAME with start_spate). With --ready, the wait begins
# once `CMD NAME` holds for the instance picked (60 s at the most; e.g. once it holds partitions);
# with --then, `CMD NAME` runs while it is down (e.g. deleting its state directory). Counts in
# $kills; the instance in $v. $RANDOM draws it all, so a test that seeds RANDOM repeats the kills.
kill_at_random() {
        local ready= then= pause
        while :; do
                case $1 in
                --ready) ready=$2; shift 2 ;;
                --then) then=$2; shift 2 ;;
                *) break ;;
                esac
        done
        pause=$(($1 + RANDOM % $2)).$((RANDOM % 10))
        v=$([ $((RANDOM % 2)) -eq 0 ] && echo a || echo b)
        [ -z "$ready" ] || wait_for 60 "$ready" "$v" || echo "# $v: still not $ready after 60 s"
        sleep "$pause"
        kill_spate "$v"
        kills=$((${kills:-0} + 1))
        [ -z "$then" ] || "$then" "$v"
        echo "# $SECONDS s: killed $v with SIGKILL${then:+, then $then $v}"
        start "$v"
}

# wait_count SECONDS TOPIC N: until TOPIC holds at least N records
wait_count() {
        local t=$1 topic=$2 n=$3
        wait_for "$t" bash -c "[ \$($KT count $BOOT $topic 2>/dev/null || echo 0) -ge $n ]"
}

# dedupe_exact TOPIC [once]: TOPIC's records (kept in $TMP/out.jsonl) are what
# tests/ref/dedupe_ref.py expects of the input it generated: every id once, its first record
# ($TMP/expected.json of `gen`); with once, every id as exactly one of its copies
# ($TMP/copies.json of `gen-spread`).
dedupe_cmp() {
        if [ "${1:-}" = once ]; then echo "compare-once $TMP/copies.json"; else echo "compare $TMP/expected.json"; fi
}
dedupe_exact() {
        $KT consume "$BOOT" "$1" --idle 0.5 >"$TMP/out.jsonl"
        $PY "$SPATE_ROOT/tests/ref/dedupe_ref.py" $(dedupe_cmp "${2:-}") "$TMP/out.jsonl" -q
}
# dedupe_report PREFIX [once]: the same comparison of $TMP/out.jsonl, one check per rule, named PREFIX...
dedupe_report() {
        tap_relay "$1" < <($PY "$SPATE_ROOT/tests/ref/dedupe_ref.py" $(dedupe_cmp "${2:-}") "$TMP/out.jsonl")
}

# warm_restore_counts LINE: "TAIL LOCAL" of a task's restore logged as LINE: the changelog
# records read past the local copy, and the offset the copy reached. A store (a window's too)
# logs "restored: TAIL changelog records ... up to offset LOCAL".
warm_restore_counts() {
        sed -nE -e 's/.*restored: ([0-9]+) changelog records.*up to offset ([0-9]+).*/\1 \2/p' <<<"$1" | head -1
}

# check_warm_restore WHAT LINE: the checks that a task's restore, logged as LINE, began from a
# copy a standby kept warm and read only a shorter tail past it (warm_restore_counts).
check_warm_restore() {
        local tail local
        read -r tail local < <(warm_restore_counts "$2")
        check "$1: the copy was kept warm by a standby" grep -q "kept warm by a standby" <<<"$2"
        check "$1: the restore read only the tail (${tail:-?} records past the copy's ${local:-?})" \
                _shorter "${tail:-}" "${local:-0}"
}

# check_restored_by FOLLOWER WHAT PATTERN NAME...: the checks that the task whose restore the
# instances NAME... log as a line matching PATTERN was restored by FOLLOWER, the instance that
# kept its standby copy, from that warm copy (check_warm_restore); the line goes to the TAP output.
check_restored_by() {
        local follower=$1 what=$2 pat=$3 s restorer=- line
        shift 3
        for s in "$@"; do log_since "$s" | grep -q "$pat" && restorer=$s; done
        check "$what: restored by its standby's instance ($restorer; followed by $follower)" [ "$restorer" = "$follower" ]
        line=$(log_since "$restorer" 2>/dev/null | grep "$pat" | head -1)
        echo "# $restorer: ${line#*INFO  }"
        check_warm_restore "$what" "$line"
}
_shorter() { [ -n "$1" ] && [ "$2" -gt 0 ] && [ "$1" -lt "$2" ]; }  # TAIL LOCAL

# committed_records GROUP TOPIC: how many records of TOPIC the consumer group GROUP has committed:
# its committed offsets added up, a partition without one counting 0.
committed_records() {
        $KT committed "$BOOT" "$1" "$2" 2>/dev/null | awk '$2 > 0 { s += $2 } END { print s + 0 }'
}

# wait_committed SECONDS GROUP TOPIC [N]: until GROUP has committed N records of TOPIC or more
# (committed_records); without N, until it has committed an offset above 0 in every partition.
wait_committed() {
        local t=$1; shift
        wait_for "$t" _committed "$@"
}
_committed() {  # GROUP TOPIC [N]: wait_committed's condition, once
        [ $# -ge 3 ] && { [ "$(committed_records "$1" "$2")" -ge "$3" ]; return; }
        $KT committed "$BOOT" "$1" "$2" 2>/dev/null | awk '$2 <= 0 { bad++ } END { exit bad > 0 || NR == 0 }'
}

# topology_header APP [SETTING...]: the lines a test's topology starts with, up to `nodes:`
# (which the test writes, with its nodes, after them): application APP, the broker start_broker
# started (SPATE_BOOTSTRAP) with the group timings below, and the settings commit_interval
# (300ms), state_dir (${SPATE_STATE_DIR:-state}, spate expands it) and any other: each SETTING a
# "key: value" line that replaces the default of its key or comes after them.
topology_header() {
        local app=$1 commit='commit_interval: 300ms' state='state_dir: ${SPATE_STATE_DIR:-state}' s more=()
        shift
        for s in "$@"; do
                case $s in
                commit_interval:*) commit=$s ;;
                state_dir:*) state=$s ;;
                *) more+=("$s") ;;
                esac
        done
        printf '%s\n' "application: $app" "kafka:" \
                '  bootstrap.servers: ${SPATE_BOOTSTRAP:-127.0.0.1:9092}' \
                '  consumer.session.timeout.ms: ${SPATE_SESSION_TIMEOUT_MS:-6000}' \
                '  consumer.heartbeat.interval.ms: ${SPATE_HEARTBEAT_MS:-1000}' \
                "settings:" "  $commit" "  $state"
        for s in "${more[@]}"; do printf '  %s\n' "$s"; done
}

# window_crash_setup NNNN REF: the start of a window's kill -9 test against the reference
# tests/ref/REF: SEED from $SEED_NNNN or a fresh $RANDOM, which it then seeds (so the kill
# times repeat too); the input $TMP/in.tsv from `REF gen SEED`; and $TMP/topo.yaml up to
# `nodes:` and the source `readings` (itNNNN.in, 3 partitions, event time t), state in
# $TMP/state, commits every 300 ms. The test appends its nodes (cat >>).
window_crash_setup() {
        local id=$1 ref=$2 var=SEED_$1
        SEED=${!var:-$RANDOM}
        RANDOM=$SEED
        echo "# seed $SEED ($var=$SEED repeats the data and the kill times)"
        ulimit -c 0
        $PY "$SPATE_ROOT/tests/ref/$ref" gen "$SEED" "$TMP/in.tsv"
        topology_header "it-$id" "state_dir: $TMP/state" >"$TMP/topo.yaml"
        cat >>"$TMP/topo.yaml" <<YAML
nodes:
  - name: readings
    type: kafka_source
    topic: it$id.in
    partitions: 3
    time: t
YAML
}

# small_disk SIZE WHAT: disk=$TMP/disk, a tmpfs of SIZE (mount's size=, e.g. 2m) that a test fills
# up, unmounted at exit; where none can be mounted (not root) the test is skipped (WHAT) and ends.
small_disk() {
        disk=$TMP/disk
        mkdir -p "$disk"
        if ! mount -t tmpfs -o size="$1" tmpfs "$disk" 2>/dev/null; then
                skip "$2" "cannot mount a tmpfs here (needs root)"
                exit 0
        fi
        trap 'umount "$disk" 2>/dev/null; cleanup' EXIT
}

# gen_id_v FILE FIRST COUNT: COUNT records for kafka_tool.py produce, ids FIRST on: lines
# "k<id><TAB>{"id":<id>,"v":<id>}".
gen_id_v() {
        $PY -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2]), int(sys.argv[2]) + int(sys.argv[3])):
        f.write("k%d\t{\"id\":%d,\"v\":%d}\n" % (i, i, i))' "$@"
}

# Dev/test group timings: the mock broker needs session.timeout.ms ~4 s.
export SPATE_SESSION_TIMEOUT_MS=4000 SPATE_HEARTBEAT_MS=500

# start_mosquitto [USER PASSWORD]: a throwaway Mosquitto (Debian's /usr/sbin/mosquitto) on a free
# loopback port, persistence on in $TMP/mosquitto, no limit on queued or in-flight QoS 1 messages
# (a persistent session must keep everything while its subscriber is down); anonymous clients,
# or only USER with PASSWORD. Sets MQTT_PORT, MQTT_URL and MOSQUITTO_PID; stopped at cleanup.
# The log is $TMP/mosquitto.log.
start_mosquitto() {
        local auth="allow_anonymous true"
        MQTT_PORT=$(free_port 1)
        mkdir -p "$TMP/mosquitto"
        if [ $# -ge 2 ]; then
                mosquitto_passwd -b -c "$TMP/mosquitto.passwd" "$1" "$2" || return 1
                auth="allow_anonymous false
password_file $TMP/mosquitto.passwd"
        fi
        cat >"$TMP/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
user root
$auth
persistence true
persistence_location $TMP/mosquitto/
autosave_interval 1
max_queued_messages 0
max_inflight_messages 0
log_dest file $TMP/mosquitto.log
log_type error
log_type warning
log_type notice
CONF
        /usr/sbin/mosquitto -c "$TMP/mosquitto.conf" >>"$TMP/mosquitto.log" 2>&1 &
        MOSQUITTO_PID=$!
        _pids+=("$MOSQUITTO_PID")
        export MQTT_PORT MQTT_URL="mqtt://127.0.0.1:$MQTT_PORT"
        wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MQTT_PORT" 2>/dev/null ||
                { echo "# mosquitto did not start"; cat "$TMP/mosquitto.log"; return 1; }
}

# tap_relay PREFIX: a reference's "ok - ..." / "not ok - ..." lines (stdin) as this test's checks,
# PREFIX before each; other lines (# comments) pass through.
tap_relay() {
        local status rest
        while read -r status rest; do
                case $status in
                ok) ok "$1${rest#- }" ;;
                not) nok "$1${rest#ok - }" ;;
                *) echo "$status $rest" ;;
                esac
        done
}

# check_sigterm NAME...: SIGTERM to the instances start_spate started as NAME..., and a check
# that every one exits 0. An instance still running after 20 s has its threads' backtraces
# printed (where its stop is stuck), and one that fails has its status and last log lines.
check_sigterm() {
        local n p rc all=0
        for n in "$@"; do eval "kill -TERM \$SPATE_PID_$n"; done
        for n in "$@"; do
                eval "p=\$SPATE_PID_$n"
                wait_for 20 gone "$p" || { echo "# instance $n still running 20 s after SIGTERM:"; stacks "$p"; }
                rc=0
                wait "$p" || rc=$?
                [ "$rc" -eq 0 ] && continue
                all=1
                echo "# instance $n exited with status $rc; its last lines:"
                tail -n 12 "$TMP/spate-$n.log" | cut -c1-300 | sed 's/^/#   /'
        done
        check "instances $* exit 0 on SIGTERM" [ "$all" -eq 0 ]
}

# stacks PID: where a process that should have exited is stuck, as TAP
# comments: every thread's backtrace (needs gdb).
stacks() {
        command -v gdb >/dev/null || { echo "# (no gdb: no backtraces of pid $1)"; return; }
        timeout 60 gdb -p "$1" -batch -ex "thread apply all bt 12" 2>/dev/null | grep -E "^(Thread|#)" |
                cut -c1-200 | head -150 | sed 's/^/# /'
}
