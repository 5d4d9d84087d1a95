#!/usr/bin/env bash
# 0310-dlq-oversize.sh - a malformed record of 1.5 MB, larger than the
# producer's message.max.bytes, is dead-lettered truncated (origin headers,
# reason, spate.truncated and the original size) while the application keeps
# running and committing: a restart replays nothing, so no output is doubled.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0310-dlq-oversize.yaml
export STATE_DIR=$TMP/state
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
BIG=1500000
$PY - "$TMP" "$BIG" <<'PY'
import sys
tmp, big = sys.argv[1], int(sys.argv[2])
with open(tmp + "/a.tsv", "w") as f:
    for i in range(100):
        f.write('k%d\t{"id":%d,"v":%d}\n' % (i, i, i))
    # unterminated string: malformed JSON, 1.5 MB
    f.write('big\t{"id":100,"v":"' + "x" * (big - 15) + '\n')
    for i in range(101, 200):
        f.write('k%d\t{"id":%d,"v":%d}\n' % (i, i, i))
with open(tmp + "/b.tsv", "w") as f:
    for i in range(200, 300):
        f.write('k%d\t{"id":%d,"v":%d}\n' % (i, i, i))
PY
check "produce 200 records, one of 1.5 MB" $KT produce "$BOOT" it0310.in "$TMP/a.tsv" --max-bytes 4000000
start_spate a "$topo"
check "199 outputs within 60 s" wait_count 60 it0310.out 199
check "the big record is dead-lettered" wait_count 30 it-0310-dlq 1
check "produce 100 more records" $KT produce "$BOOT" it0310.in "$TMP/b.tsv"
check "spate keeps running and processes them" wait_count 60 it0310.out 299
kill -TERM "$SPATE_PID_a"; wait "$SPATE_PID_a"; rc=$?
check "spate run exits 0 on SIGTERM (rc $rc)" [ "$rc" -eq 0 ]
check "the truncation is logged with the record's origin" grep -q "dead letter of it0310.in\[0\]@100 truncated" "$TMP/spate-a.log"
"$SPATE_BIN" run "$topo" --until-idle 3s 2>"$TMP/spate-b.log"; rc=$?
check "a restart exits 0 (rc $rc)" [ "$rc" -eq 0 ]
$KT consume "$BOOT" it0310.out --idle 2 >"$TMP/out.jsonl"
$KT consume "$BOOT" it-0310-dlq --idle 2 >"$TMP/dlq.jsonl"
$PY - "$TMP" "$BIG" <<'PY' | while read -r status rest; do if [ "$status" = ok ]; then ok "$rest"; else nok "$rest"; fi; done
import json, sys
tmp, big = sys.argv[1], int(sys.argv[2])
out = [json.loads(l) for l in open(tmp + "/out.jsonl")]
ids = sorted(json.loads(r["value"])["id"] for r in out)
want = [i for i in range(300) if i != 100]
print("ok" if ids == want else "not", "outputs are ids 0..299 but 100, each once (%d records)" % len(ids))
twice = all(json.loads(r["value"])["twice"] == 2 * json.loads(r["value"])["id"] for r in out)
print("ok" if twice else "not", "every output value is right")
dlq = [json.loads(l) for l in open(tmp + "/dlq.jsonl")]
print("ok" if len(dlq) == 1 else "not", "exactly one dead letter (%d)" % len(dlq))
if dlq:
    d, h = dlq[0], dlq[0]["headers"]
    print("ok" if h.get("spate.truncated") == "value" else "not", "spate.truncated: value (%s)" % h.get("spate.truncated"))
    print("ok" if h.get("spate.value_size") == str(big) else "not", "spate.value_size is the original size (%s)" % h.get("spate.value_size"))
    print("ok" if h.get("spate.offset") == "100" and h.get("spate.topic") == "it0310.in" and h.get("spate.partition") == "0" else "not",
          "origin headers kept (%s[%s]@%s)" % (h.get("spate.topic"), h.get("spate.partition"), h.get("spate.offset")))
    print("ok" if "malformed JSON" in (h.get("spate.error") or "") and h.get("spate.node") == "in" else "not",
          "reason and node kept (%s: %s)" % (h.get("spate.node"), h.get("spate.error")))
    v = d["value"]
    print("ok" if 900000 < len(v) < 1000000 and v.startswith('{"id":100,"v":"xxx') and d["key"] == "big" else "not",
          "the value is the record's first %d bytes, the key is kept" % len(v))
PY
