#!/usr/bin/env bash
# 0857-dedupe-repartition-expire-idle.sh - `expire_after_idle` of a repartitioned dedupe, under
# the engine's wall clock: input partition 4 holds one record an hour older than the rest, so
# every task waits for it (the one that got it at its time, the others for a first record) and
# nothing expires; 3 partitions are empty (marked at once). `spate run --until-idle 4s` reads
# the backlog, then every partition goes quiet: after 1 s of wall clock each is marked idle,
# none holds, and the tasks expire at the furthest time. The same run without the option
# expires nothing. Both: every id out as exactly one of its copies (tests/ref/dedupe_ref.py).
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
# run NAME FILE: one run --until-idle 4s; sets $expired to the keys it expired.
run() {
        SPATE_STATE_DIR="$TMP/state-$1" "$SPATE_BIN" run "$2" --until-idle 4s 2>"$TMP/$1.log"; local rc=$?
        check "$1: spate run --until-idle exits 0 (rc $rc)" [ "$rc" -eq 0 ]
        [ "$rc" -eq 0 ] || sed 's/^/# /' "$TMP/$1.log" | tail -n 30
        expired=$(sed -nE "s/.*dedupe 'dd': .* ([0-9]+) keys expired.*/\1/p" "$TMP/$1.log" | tail -1)
}
run idle "$topo"
check "expire_after_idle: 1s: keys expire once every partition is quiet ($expired expired)" [ "${expired:-0}" -gt 1000 ]
$KT consume "$BOOT" it0857.out --idle 0.5 | grep -v '\\"solo\\"' >"$TMP/out.jsonl"
dedupe_report "with expire_after_idle: " once
run plain "$TMP/plain.yaml"
check "without it the old record holds every task: nothing expires ($expired expired)" [ "${expired:-x}" = 0 ]
dl=$($KT count "$BOOT" it-0857-dlq)
check "nothing dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
