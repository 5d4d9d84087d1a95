#!/usr/bin/env bash
# 0330-fanout-dlq.sh - a record reaches every branch of a fan-out even when a
# branch declared before another fails on it: each failing branch dead-letters
# it once, named in spate.branch; the other branches write it.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0330-fanout-dlq.yaml
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
N=1000
# id % 3 == 1: v is a string (branch vb fails); id % 5 == 2: w is a string (wc fails).
$PY - "$TMP/in.tsv" "$N" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        v = "bad" if i % 3 == 1 else i
        w = "bad" if i % 5 == 2 else i
        f.write("k%d\t%s\n" % (i, json.dumps({"id": i, "v": v, "w": w})))
PY
n_b=$($PY -c "print(sum(1 for i in range($N) if i % 3 != 1))")
n_c=$($PY -c "print(sum(1 for i in range($N) if i % 5 != 2))")
n_dlq=$(( (N - n_b) + (N - n_c) ))
check "produce $N records" $KT produce "$BOOT" it0330.in "$TMP/in.tsv"
"$SPATE_BIN" run "$topo" --until-idle 3s 2>"$TMP/spate.log"; rc=$?
check "spate run exits 0 (rc $rc)" [ "$rc" -eq 0 ]
for t in it0330.all it0330.b it0330.c it-0330-dlq; do $KT consume "$BOOT" "$t" --idle 2 >"$TMP/$t.jsonl"; done
$PY - "$TMP" "$N" <<'PY' | while read -r status rest; do if [ "$status" = ok ]; then ok "$rest"; else nok "$rest"; fi; done
import collections, json, sys
tmp, n = sys.argv[1], int(sys.argv[2])
def ids(t):
    return sorted(json.loads(json.loads(l)["value"])["id"] for l in open("%s/%s.jsonl" % (tmp, t)))
got = ids("it0330.all")
print("ok" if got == list(range(n)) else "not", "all_out (declared after the failing vb) wrote every record once (%d)" % len(got))
got = ids("it0330.b")
print("ok" if got == [i for i in range(n) if i % 3 != 1] else "not", "vb_out wrote the records with a numeric v (%d)" % len(got))
got = ids("it0330.c")
print("ok" if got == [i for i in range(n) if i % 5 != 2] else "not", "wc_out wrote the records with a numeric w (%d)" % len(got))
dlq = [json.loads(l) for l in open(tmp + "/it-0330-dlq.jsonl")]
per = collections.Counter((json.loads(d["value"])["id"], d["headers"].get("spate.branch"), d["headers"].get("spate.node")) for d in dlq)
want = collections.Counter([(i, "vb", "vb") for i in range(n) if i % 3 == 1] + [(i, "wc", "wc") for i in range(n) if i % 5 == 2])
print("ok" if per == want else "not", "one dead letter per failing branch, naming it (%d, want %d)" % (sum(per.values()), sum(want.values())))
both = [d for d in dlq if json.loads(d["value"])["id"] == 7]
print("ok" if sorted(d["headers"].get("spate.branch") for d in both) == ["vb", "wc"] else "not", "record 7 fails both branches: two dead letters")
print("ok" if all(d["headers"].get("spate.offset") and "wrong" not in d["headers"].get("spate.error", "wrong") for d in dlq) else "not", "each has its origin offset and reason")
PY
