#!/usr/bin/env bash
# 0856-dedupe-repartition-empty.sh - a dedupe with `repartition: true` whose input has 8
# partitions, 4 of them empty: the repartition node marks those empty to every task at a
# commit, so the tasks expire entries at the time of the 4 that have records. Before the marks
# it expired nothing, ever (a task waited for a record of every source partition). One
# `spate run --until-idle` over 20,000 records of ~50 s of event time (copies within ~4 s,
# `within: 10s`): every id out as exactly one of its copies (tests/ref/dedupe_ref.py), and
# keys expired.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0856-dedupe-repartition-empty.yaml
N=${N_0856:-20000}
$PY "$SPATE_ROOT/tests/ref/dedupe_ref.py" gen-spread "$N" 4 "$TMP/in.tsv" "$TMP/copies.json"
start_broker --topology "$topo" --topic it0856.in:8 --topic it-0856-dd-repartition:8 \
        --topic it-0856-dd-seen_by_key-changelog:8 --topic it0856.out:2 --topic it-0856-dlq:1 ||
        { nok "broker starts"; exit 1; }
check "produce $N records to partitions 0-3 of 8" $KT produce "$BOOT" it0856.in "$TMP/in.tsv" --partitioned
SPATE_STATE_DIR="$TMP/state" "$SPATE_BIN" run "$topo" --until-idle 1s 2>"$TMP/spate.log"; rc=$?
check "spate run --until-idle exits 0 (rc $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || sed 's/^/# /' "$TMP/spate.log" | tail -n 30
dedupe_exact it0856.out once
dedupe_report "4 empty partitions of 8: " once
line=$(grep -o "dedupe 'dd': .*keys expired" "$TMP/spate.log" | tail -1)
expired=$(sed -nE 's/.* ([0-9]+) keys expired/\1/p' <<<"$line")
check "keys expire with 4 empty input partitions (${line:-no summary logged})" [ "${expired:-0}" -gt 1000 ]
dl=$($KT count "$BOOT" it-0856-dlq)
check "nothing dead-lettered ($dl records in the DLQ)" [ "$dl" -eq 0 ]
