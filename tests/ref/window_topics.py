#!/usr/bin/python3
"""window_topics.py - moves window test data between windows_ref.py's format and Kafka topics.

  produce-lines RECORDS.jsonl OUT       records -> "partition<TAB>key<TAB>value" lines for
                                        kafka_tool.py produce --partitioned (partition = "p")
  got OUTPUT.jsonl DLQ.jsonl [NODE]     a window node's output topic and the DLQ, as consumed by
                                        kafka_tool.py, -> windows_ref.py's output format: the
                                        latest value per key (a compacted topic's view; keys
                                        whose latest value is a tombstone are gone) and the
                                        records the DLQ holds with a "late" reason
  stats OUTPUT.jsonl                    "records keys tombstones distinct-key-value-pairs" of an
                                        output topic
"""
import json
import sys


def produce_lines(src, dst):
    with open(src) as f, open(dst, "w") as out:
        for line in f:
            if line.strip():
                r = json.loads(line)
                out.write("%d\t%s\t%s\n" % (r["p"], r["key"], line.strip()))


def latest(path):
    last = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                m = json.loads(line)
                last[m["key"]] = m["value"]
    return last


def got(out_path, dlq_path, node=None):
    for key, value in sorted(latest(out_path).items()):
        if value is None:
            continue
        row = json.loads(value)
        group, _, iso = key.rpartition("@")
        if group != row["key"] or not iso.endswith("Z"):
            sys.exit("output key %r does not match its window %r" % (key, row))
        print(json.dumps(row))
    with open(dlq_path) as f:
        for line in f:
            if not line.strip():
                continue
            m = json.loads(line)
            h = m["headers"]
            if node and h.get("spate.node") != node:
                continue
            if "late" not in (h.get("spate.error") or ""):
                continue
            r = json.loads(m["value"])
            if int(h["spate.partition"]) != r["p"] or int(h["spate.offset"]) != r["o"]:
                sys.exit("DLQ headers %r do not match the record %r" % (h, r))
            print(json.dumps({"late": {"key": r["key"], "t": r["t"], "p": r["p"], "o": r["o"]}}))


def stats(path):
    n, last, pairs = 0, {}, set()
    with open(path) as f:
        for line in f:
            if line.strip():
                m = json.loads(line)
                n += 1
                last[m["key"]] = m["value"]
                pairs.add((m["key"], m["value"]))
    print(n, len(last), sum(1 for v in last.values() if v is None), len(pairs))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "produce-lines":
        produce_lines(sys.argv[2], sys.argv[3])
    elif cmd == "got":
        got(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    elif cmd == "stats":
        stats(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
