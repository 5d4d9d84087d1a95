#!/usr/bin/env bash
# 0230-bad-input.sh - hostile input end to end (issue 14): a JSON sink's output is valid JSON
# for Python's strict parser (invalid escapes, UTF-8 and 1e400 in fields nobody references go to
# the DLQ with a reason instead of being copied); a "\u0000" inside a string round-trips through
# Avro byte for byte (it used to write heap bytes); a substr() that cuts a UTF-8 character is
# repaired to U+FFFD; event times of +-1e300 are dead-lettered as out of range; partitions: -3
# fails at load instead of crashing `spate run`; an unwritable state_dir says so.
. "$SPATE_ROOT/tests/lib.sh"
topo=$SPATE_ROOT/tests/integration/0230-bad-input.yaml
export SPATE_STATE_DIR=$TMP/state

# C4: load fails with the line, before anything touches Kafka.
sed 's/^    partitions: 2$/    partitions: -3/' "$topo" >"$TMP/neg.yaml"
"$SPATE_BIN" run "$TMP/neg.yaml" 2>"$TMP/neg.log"; rc=$?
check "partitions: -3: spate run exits 1, not a crash (rc $rc)" [ "$rc" -eq 1 ]
check "... naming the line and the allowed range" grep -q "neg.yaml:16:17: kafka_source node 'in': 'partitions' must be from 1" "$TMP/neg.log"

start_broker --topology "$topo" || { nok "broker starts"; exit 1; }
$PY - "$TMP/in.tsv" "$TMP/times.tsv" <<'PY'
import sys
good = [b'{"sensor":"a\\u0000b","ts":1,"temp":1.5,"ok":true}',
        b'{"sensor":"caf\\u00e9s","ts":2,"temp":2,"ok":false,"x":"\\ud83d\\ude00 \xc3\xa9","y":1e308}']
bad = [b'{"sensor":"b1","ts":3,"temp":1,"ok":true,"x":"\\q"}',
       b'{"sensor":"b2","ts":4,"temp":1,"ok":true,"x":"\\udr00"}',
       b'{"sensor":"b3","ts":5,"temp":1,"ok":true,"x":"\xff\xfe"}',
       b'{"sensor":"b4","ts":6,"temp":1,"ok":true,"x":1e400}',
       b'{"sensor":"b5","ts":7,"temp":1,"ok":true,"x":"\\ud800"}']
with open(sys.argv[1], "wb") as f:
    for i, v in enumerate(good + bad):
        f.write(b"k%d\t%s\n" % (i, v))
with open(sys.argv[2], "wb") as f:
    f.write(b'k\t{"t":1e300}\nk\t{"t":-1e300}\nk\t{"t":3600000}\n')
PY
check "produce 7 records" $KT produce "$BOOT" it0230.in "$TMP/in.tsv"
check "produce 3 timed records" $KT produce "$BOOT" it0230.times "$TMP/times.tsv"
start_spate a "$topo"
check "2 records pass through" wait_count 60 it0230.pass 2
check "2 records come back from Avro" wait_count 60 it0230.back 2
check "the good timed record is windowed" wait_count 60 it0230.win 1
check "5 bad records and 2 bad times are dead-lettered" wait_count 60 it-0230-dlq 7
kill -TERM "$SPATE_PID_a"; wait "$SPATE_PID_a"
$PY - "$BOOT" >"$TMP/checks" <<'PY'
import json, sys, uuid
from confluent_kafka import Consumer, TopicPartition
boot = sys.argv[1]
def read(topic, parts):
    c = Consumer({"bootstrap.servers": boot, "group.id": uuid.uuid4().hex, "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(parts)])
    out, idle = [], 0
    while idle < 3:
        m = c.poll(1)
        if m is None:
            idle += 1
        elif not m.error():
            out.append(m)
    c.close()
    return out
def strict(b):
    def no_const(s):
        raise ValueError("non-JSON constant " + s)
    return json.loads(b.decode("utf-8"), parse_constant=no_const)
for topic in ("it0230.pass", "it0230.back"):
    bad = []
    for m in read(topic, 2):
        try:
            strict(m.value())
        except Exception as e:
            bad.append("%r: %s" % (m.value()[:80], e))
    print(("ok" if not bad else "not ok") + " every record of %s is valid JSON and UTF-8 %s" % (topic, bad[:2]))
back = sorted((strict(m.value()) for m in read("it0230.back", 2)), key=lambda r: r["sensor"])
print(("ok" if [r["sensor"] for r in back] == ["a\x00b", "caf\u00e9s"] else "not ok") +
      " the NUL survives JSON -> Avro -> JSON byte for byte, nothing after it is heap (%r)" % [r["sensor"] for r in back])
print(("ok" if back[1]["cut"] == "caf\ufffd" else "not ok") +
      " substr() cutting a 2-byte character is written as U+FFFD (%r)" % back[1]["cut"])
dlq = read("it-0230-dlq", 1)
reasons = sorted((m.headers() and dict(m.headers()).get("spate.error", b"") or b"").decode() for m in dlq)
want = ["bad \\u escape", "bad \\u escape", "bad escape in string", "invalid UTF-8", "number out of range",
        "out of range", "out of range"]
hits = sum(1 for w in want if any(w in r for r in reasons))
print(("ok" if len(dlq) == 7 and hits == len(want) else "not ok") + " the DLQ holds the 7 with their reasons %r" % reasons)
PY
while read -r l; do case $l in ok*) ok "${l#ok }";; *) nok "${l#not ok }";; esac; done <"$TMP/checks"
check "the Python checks ran" [ "$(wc -l <"$TMP/checks")" -eq 5 ]

# An unwritable state_dir (root writes nearly anywhere: /sys refuses even root).
if mkdir /sys/spate-0230-probe 2>/dev/null; then rmdir /sys/spate-0230-probe
        skip "an unwritable state_dir is named" "/sys is writable here"
else
        SPATE_STATE_DIR=/sys/spate-0230 "$SPATE_BIN" run "$topo" 2>"$TMP/ro.log" & pid=$!; _pids+=($pid)
        wait_for 60 grep -q "cannot open state" "$TMP/ro.log"
        kill -TERM "$pid" 2>/dev/null; wait "$pid"
        check "an unwritable state_dir is named as not writable" grep -q "the directory is not writable" "$TMP/ro.log"
        check "... without the two-instances hint or an undelivered-output claim" \
                bash -c "! grep -qE 'two instances|not delivered' '$TMP/ro.log'"
fi
