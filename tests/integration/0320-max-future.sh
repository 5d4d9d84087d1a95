#!/usr/bin/env bash
# 0320-max-future.sh - one record dated 9999 among records of the last hours:
# it goes to the DLQ with a reason naming max_future, and the records after it
# are not late (it did not move stream time). The same run with a window
# `time:` of its own, and with the default max_future.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0320-max-future.yaml
topo2=$SPATE_ROOT/tests/integration/0320-max-future-window.yaml
start_broker --topology "$topo" --topic it0320.out2:1 --topic it-0320b-dlq:1 \
        --topic it-0320b-hourly-changelog:1 || { nok "broker starts"; exit 1; }
$PY - "$TMP/in.tsv" <<'PY'
import json, sys, time
base = (int(time.time()) // 3600 - 3) * 3600 * 1000   # three hours ago, on the hour
with open(sys.argv[1], "w") as f:
    for i in range(100):
        if i == 50:
            f.write("s\t%s\n" % json.dumps({"t": 253402214400000, "i": -1}))  # 9999-12-31
        f.write("s\t%s\n" % json.dumps({"t": base + i * 60000, "i": i}))      # 100 minutes
PY
check "produce 101 records" $KT produce "$BOOT" it0320.in "$TMP/in.tsv"
run() {  # name, topology
        STATE_DIR="$TMP/state-$1" "$SPATE_BIN" run "$2" --until-idle 3s 2>"$TMP/spate-$1.log"
}
verify() {  # name, output topic, DLQ topic
        $KT consume "$BOOT" "$2" --idle 2 >"$TMP/out.jsonl"
        $KT consume "$BOOT" "$3" --idle 2 >"$TMP/dlq.jsonl"
        $PY - "$TMP" "$1" <<'PY' | while read -r status rest; do if [ "$status" = ok ]; then ok "$rest"; else nok "$rest"; fi; done
import json, sys
tmp, name = sys.argv[1], sys.argv[2]
latest = {}
for l in open(tmp + "/out.jsonl"):
    r = json.loads(l)
    latest[r["key"]] = json.loads(r["value"]) if r["value"] else None
total = sum(v["n"] for v in latest.values() if v)
print("ok" if total == 100 else "not", "%s: the windows count all 100 records (%d)" % (name, total))
print("ok" if not any(k.startswith("s@9999") for k in latest) else "not", "%s: no window in 9999" % name)
dlq = [json.loads(l) for l in open(tmp + "/dlq.jsonl")]
print("ok" if len(dlq) == 1 else "not", "%s: one dead letter, the 9999 record (%d; first reasons %s)" % (
    name, len(dlq), [d["headers"].get("spate.error") for d in dlq[:2]]))
reason = dlq[0]["headers"].get("spate.error", "") if dlq else ""
print("ok" if "9999-12-31" in reason and "max_future" in reason else "not", "%s: reason: %s" % (name, reason))
PY
}
run source "$topo"; rc=$?
check "source time:, max_future 1d: spate run exits 0 (rc $rc)" [ "$rc" -eq 0 ]
verify "source time:, max_future 1d" it0320.out it-0320-dlq
run window "$topo2"; rc=$?
check "window time:, default max_future: spate run exits 0 (rc $rc)" [ "$rc" -eq 0 ]
verify "window time:, default max_future" it0320.out2 it-0320b-dlq
