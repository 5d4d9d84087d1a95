#!/usr/bin/env bash
# 0220-avro.sh - Avro serdes: JSON records written as Confluent-framed Avro (magic 0, 4-byte
# schema id, binary body) with a local schema, read back and written as JSON again: every record
# comes back equal, including a null union branch; a record that does not fit the schema is
# dead-lettered with the reason.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0220-avro.yaml
start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
$PY - "$TMP/in.tsv" <<'PY'
import json, random, sys
r = random.Random(220)
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        rec = {"sensor": "s%03d" % (i % 300), "region": None if i % 7 == 0 else r.choice(["Bretagne", "Île-de-France"]),
               "ts": 1700000000000 + i * 1000, "temp": round(r.uniform(-10, 40), 2), "ok": i % 3 != 0}
        f.write("%s\t%s\n" % (rec["sensor"], json.dumps(rec, ensure_ascii=False)))
    f.write('bad\t{"sensor":"bad","ts":"not a number","temp":1,"ok":true}\n')
PY
check "produce 2001 JSON records" $KT produce "$BOOT" it0220.json "$TMP/in.tsv"
start_spate a "$topo"
check "2000 records come back as JSON" wait_count 60 it0220.back 2000
check "the record that does not fit the schema is dead-lettered" wait_count 30 it-0220-dlq 1
kill -TERM "$SPATE_PID_a"; wait "$SPATE_PID_a"
$KT consume "$BOOT" it0220.back --idle 2 >"$TMP/back.jsonl"
$KT consume "$BOOT" it-0220-dlq --idle 2 >"$TMP/dlq.jsonl"
$PY - "$BOOT" "$TMP/in.tsv" "$TMP/back.jsonl" "$TMP/dlq.jsonl" <<'PY' | while read -r l; do case $l in ok*) ok "${l#ok }";; *) nok "${l#not ok }";; esac; done
import json, struct, sys, uuid
from confluent_kafka import Consumer, TopicPartition
boot, inp, back, dlq = sys.argv[1:5]
want = sorted((json.loads(l.split("\t", 1)[1]) for l in open(inp) if not l.startswith("bad")), key=lambda r: r["ts"])
got = sorted((json.loads(json.loads(l)["value"]) for l in open(back)), key=lambda r: r["ts"])
for g in got:
    g.setdefault("region", None)
print(("ok" if got == want else "not ok") + " all %d records equal the input after JSON -> Avro -> JSON (%d back)" % (len(want), len(got)))
c = Consumer({"bootstrap.servers": boot, "group.id": uuid.uuid4().hex})
c.assign([TopicPartition("it0220.avro", p, 0) for p in range(4)])
frames = []
while len(frames) < 50:
    m = c.poll(2)
    if m is None:
        break
    if not m.error():
        frames.append(m.value())
c.close()
ok = frames and all(f[0] == 0 and len(f) > 5 for f in frames) and len({f[1:5] for f in frames}) == 1
print(("ok" if ok else "not ok") + " Avro records are Confluent-framed: magic byte 0 and one 4-byte schema id (%s)"
      % (struct.unpack(">i", frames[0][1:5])[0] if frames else "none"))
d = [json.loads(l) for l in open(dlq)]
print(("ok" if len(d) == 1 and "ts" in d[0]["headers"].get("spate.error", "") else "not ok") +
      " DLQ reason names the field: %s" % (d[0]["headers"].get("spate.error") if d else "none"))
PY
