#!/usr/bin/env bash
# 0800-window-reference.sh - runs a fixed pseudo-random record stream through
# `spate window-sim` (operators/window/window.c + agg.c + the RocksDB store) and through the
# independent tests/ref/windows_ref.py, for all four window types, and compares
# every window and aggregate.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
SPATE=${SPATE_BIN:-bin/spate}
work=$(mktemp -d /tmp/spate-0800.XXXXXX)
trap 'rm -rf "$work"' EXIT
n=1
fail=0

ok() {  # cond-status, message
        if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi
        n=$((n + 1))
}

$PY tests/ref/gen_window_records.py --seed 800 --records 4000 --grace 300 >"$work/records.jsonl"
ok $? "generated $(wc -l <"$work/records.jsonl") records"

# The dataset must exercise what it is meant to: disorder inside grace and late records.
$PY - "$work/records.jsonl" <<'PYEOF'
import json, sys
last, ooo = {}, 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["t"] < last.get(r["p"], r["t"]):
        ooo += 1
    last[r["p"]] = max(last.get(r["p"], r["t"]), r["t"])
print("# out-of-order records:", ooo)
sys.exit(0 if ooo > 500 else 1)
PYEOF
ok $? "dataset has plenty of out-of-order records"

specs=(
        "tumbling --size 1000 --grace 300"
        "hopping --size 1000 --advance 300 --grace 300"
        "sliding --size 500 --grace 300"
        "session --gap 150 --grace 300"
)
for spec in "${specs[@]}"; do
        type=${spec%% *}
        # shellcheck disable=SC2086
        $PY tests/ref/windows_ref.py --type $spec <"$work/records.jsonl" >"$work/$type.ref"
        ok $? "$type: reference ran"
        # shellcheck disable=SC2086
        "$SPATE" window-sim --type $spec <"$work/records.jsonl" >"$work/$type.got" 2>"$work/$type.err"
        ok $? "$type: spate window-sim ran $(head -c 300 "$work/$type.err")"
        nwin=$(grep -vc '"late"' "$work/$type.ref")
        nlate=$(grep -c '"late"' "$work/$type.ref")
        echo "# $type: $nwin windows, $nlate late records"
        [ "$nwin" -gt 20 ] && [ "$nlate" -gt 5 ]
        ok $? "$type: the reference found windows ($nwin) and late records ($nlate)"
        $PY tests/ref/compare_windows.py "$type" "$work/$type.ref" "$work/$type.got" "$n" \
                >"$work/$type.cmp"
        [ $? -eq 0 ] || fail=1
        cat "$work/$type.cmp"
        n=$((n + $(grep -c '^ok\|^not ok' "$work/$type.cmp")))
done
exit $fail
