#!/usr/bin/env bash
# 0857-dedupe-repartition-expire-idle.sh - `expire_after_idle` of a repartitioned dedupe, under
# the engine's wall clock: input partition 4 holds one record an hour older than the rest, so
# every task waits for it (the one that got it at its time, the others for a first record) and
# nothing expires; 3 partitions are empty (marked at once). With `expire_after_idle: 1s`, an
# instance reads the backlog, then every partition goes quiet: after 1 s of wall clock each is
# marked idle, none holds, and the tasks expire at the furthest time (waited for on /metrics,
# then SIGTERM). The same topology without the option, run `--until-idle 4s`, expires nothing.
# Every id out as exactly one of its copies (tests/ref/dedupe_ref.py).
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0857-dedupe-repartition-expire-idle.yaml
N=${N_0857:-20000}
$PY "$SPATE_ROOT/tests/ref/dedupe_ref.py" gen-spread "$N" 4 "$TMP/in.tsv" "$TMP/copies.json"
first=$(head -1 "$TMP/in.tsv" | sed -nE 's/.*"t":([0-9]+).*/\1/p')
printf '4\tsolo\t{"id":"solo","t":%d,"n":-1}\n' $((first - 3600000)) >>"$TMP/in.tsv"
sed -e 's/^application: it-0857/application: it-0857b/' -e '/expire_after_idle/d' "$topo" >"$TMP/plain.yaml"
start_broker --topology "$topo" --topology "$TMP/plain.yaml" --topic it0857.in:8 --topic it0857.out:2 \
        --topic it-0857-dd-repartition:8 --topic it-0857-dd-seen_by_key-changelog:8 --topic it-0857-dlq:1 \
        --topic it-0857b-dd-repartition:8 --topic it-0857b-dd-seen_by_key-changelog:8 --topic it-0857b-dlq:1 ||
        { nok "broker starts"; exit 1; }
check "produce $N records to partitions 0-3 of 8, one to partition 4" $KT produce "$BOOT" it0857.in "$TMP/in.tsv" \
        --partitioned
# expired: spate_dedupe_expired_total of instance idle's /metrics (empty while it does not answer);
# expired_over N: whether it is over N.
expired() { curl -s "http://127.0.0.1:$http/metrics" | sed -nE 's/^spate_dedupe_expired_total\{node="dd"\} ([0-9]+).*/\1/p'; }
expired_over() { local n; n=$(expired); [ "${n:-0}" -gt "$1" ]; }
http=$(free_port 1)
start_spate idle "$topo" SPATE_HTTP=127.0.0.1:$http SPATE_STATE_DIR="$TMP/state-idle"
wait_for 120 expired_over 1000
n=$(expired)
check "expire_after_idle: 1s: keys expire once every partition is quiet (${n:-no answer} expired)" [ "${n:-0}" -gt 1000 ]
check_sigterm idle
$KT consume "$BOOT" it0857.out --idle 0.5 | grep -v '\\"solo\\"' >"$TMP/out.jsonl"
dedupe_report "with expire_after_idle: " once
SPATE_STATE_DIR="$TMP/state-plain" "$SPATE_BIN" run "$TMP/plain.yaml" --until-idle 4s 2>"$TMP/plain.log"; rc=$?
check "without it: spate run --until-idle exits 0 (rc $rc)" [ "$rc" -eq 0 ]
n=$(sed -nE "s/.*dedupe 'dd': .* ([0-9]+) keys expired.*/\1/p" "$TMP/plain.log" | tail -1)
check "without it the old record holds every task: nothing expires (${n:-no summary} expired)" [ "${n:-x}" = 0 ]
dl=$($KT count "$BOOT" it-0857-dlq)
check "nothing dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
