#!/usr/bin/python3
"""mqtt_ref.py - checks what `mqtt_source` wrote to Kafka against what `spate iot-sim`
published (its --log), independently of spate: the expected records are rebuilt here from
the published topic and payload, and the dedupe id from its definition (FNV-1a 64 of
topic, a NUL byte and payload, as 16 hex digits).

usage: mqtt_ref.py exact|crash SIM_LOG RAW.jsonl DLQ.jsonl [CUT.json]

RAW and DLQ are `kafka_tool.py consume` dumps of the raw topic and the dead-letter topic;
the topic filter is PREFIX/+sensor_id/+kind with key sensor_id. Prints "ok ..."/"not ok ..."
lines. exact: every well-formed published message is in RAW exactly once, malformed ones
are in DLQ exactly once. crash: at least once; a message written twice must have its
first copy below the partition's end at the crash (CUT.json: {partition: end offset}),
i.e. it was in Kafka and not acknowledged when spate died; after removing duplicates
by mqtt_id the records equal the published messages exactly.
"""
import json
import sys


def say(cond, msg):
    print(("ok " if cond else "not ok ") + msg)
    return cond


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    mode, sim_log, raw_path, dlq_path = sys.argv[1:5]
    cut = {int(k): v for k, v in json.load(open(sys.argv[5])).items()} if len(sys.argv) > 5 else {}
    published = load(sim_log)
    good = [m for m in published if m.get("fault") != "malformed"]
    bad = [m for m in published if m.get("fault") == "malformed"]
    expect = {}
    for m in good:
        _, sensor, kind = m["topic"].split("/")
        rec = {"mqtt_topic": m["topic"],
               "mqtt_id": fnv1a64(m["topic"].encode() + b"\0" + m["payload"].encode()),
               "sensor_id": sensor, "kind": kind}
        rec.update(json.loads(m["payload"]))
        expect[rec["mqtt_id"]] = rec
    say(len(expect) == len(good), "the %d well-formed published messages have distinct ids" % len(good))

    raw = load(raw_path)
    seen, wrong, dup_first_late = {}, [], []
    for r in raw:
        v = json.loads(r["value"])
        seen.setdefault(v.get("mqtt_id"), []).append(r)
        e = expect.get(v.get("mqtt_id"))
        if e is None or v != e or r["key"] != e["sensor_id"]:
            wrong.append(r)
    missing = [i for i in expect if i not in seen]
    dups = {i: rs for i, rs in seen.items() if len(rs) > 1}
    say(not missing, "every one of the %d published messages is in the raw topic (%d missing, e.g. %s)"
        % (len(expect), len(missing), [expect[i]["mqtt_topic"] + " seq " + str(expect[i]["seq"]) for i in missing[:3]]))
    say(not wrong, "every raw record is a published message: payload members plus mqtt_topic, mqtt_id, "
        "sensor_id and kind from the topic, keyed by sensor_id (%d wrong, e.g. %s)" % (len(wrong), wrong[:1]))
    if mode == "exact":
        say(not dups, "no message is written twice (%d are)" % len(dups))
    else:
        late = [i for i, rs in dups.items()
                if min(r["offset"] for r in rs) >= cut.get(rs[0]["partition"], 0)
                or max(r["offset"] for r in rs) < cut.get(rs[0]["partition"], 0)]
        say(not late, "each message written twice has one copy from before the crash (in Kafka, not "
            "acknowledged) and one after (%d duplicates, %d not so)" % (len(dups), len(late)))
        say(len(seen) == len(expect) and all(json.loads(rs[0]["value"]) == expect[i] for i, rs in seen.items()),
            "removing duplicates by mqtt_id leaves exactly the %d published messages (%d distinct ids)"
            % (len(expect), len(seen)))
    # QoS 1 from one publisher keeps a topic's order; one sensor is one key, so one partition.
    order_ok = True
    last = {}
    for r in sorted(raw, key=lambda r: (r["partition"], r["offset"])):
        v = json.loads(r["value"])
        k = v.get("sensor_id")
        if mode == "exact" and last.get(k, -1) >= v.get("seq", -1):
            order_ok = False
        last[k] = v.get("seq", -1)
    if mode == "exact":
        say(order_ok, "each sensor's readings are in the raw topic in the order published")

    dlq = load(dlq_path)
    got_bad = {}
    for d in dlq:
        h = d["headers"]
        got_bad.setdefault((h.get("spate.topic"), d["value"]), []).append(h.get("spate.error", ""))
    missing_bad = [m for m in bad if ("mqtt:" + m["topic"], m["payload"]) not in got_bad]
    say(not missing_bad, "every malformed payload (%d) is in the DLQ with the MQTT topic as origin (%d missing)"
        % (len(bad), len(missing_bad)))
    say(all("not a JSON object" in e for errs in got_bad.values() for e in errs),
        "each dead letter's reason says the payload is not a JSON object")
    if mode == "exact":
        say(len(dlq) == len(bad), "the DLQ holds nothing else (%d dead letters for %d malformed)" % (len(dlq), len(bad)))
    print("# %d published (%d malformed), %d raw records, %d distinct, %d duplicated, %d dead letters"
          % (len(published), len(bad), len(raw), len(seen), len(dups), len(dlq)))


if __name__ == "__main__":
    main()
