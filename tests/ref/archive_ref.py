#!/usr/bin/python3
"""archive_ref.py - input and independent checker for the archive_sink test (0730).

  gen N SEED FILE          lines "partition<TAB>key<TAB>value" for kafka_tool.py produce --partitioned:
                           JSON readings whose time `t` spans several hours (late ones cross hour
                           boundaries), with non-ASCII text and escapes, and a few malformed ones
  compare BOOT TOPIC DLQ DIR [-q] [--final] [--raw]
                           reads TOPIC and the DLQ topic with confluent-kafka (bytes as stored) and
                           every file under DIR with Debian's python3-avro, and prints "ok - ..." /
                           "not ok - ..." lines: every message with a valid reading is archived
                           exactly once with identical key and value bytes, partition, offset and
                           timestamp (= its t), in the dt=/hour= directory of t, in a file whose name
                           names its topic, partition and first and last offset; files of a partition
                           hold disjoint offset ranges; the malformed ones are in the DLQ, not in the
                           archive. With --final: no in-progress file is left. -q: exit status only.
                           With --raw (a source of format: raw): every message is archived, malformed
                           ones too, its timestamp the Kafka timestamp, and nothing is dead-lettered.
"""
import json
import os
import random
import re
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

from avro.datafile import DataFileReader
from avro.io import DatumReader
from confluent_kafka import Consumer, TopicPartition

PARTITIONS = 4
HOUR = 3600 * 1000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NAME = re.compile(r"^(?P<topic>.+)-p(?P<p>\d+)-(?P<first>\d+)-(?P<last>\d+)\.avro$")


def gen(n, seed, path):
    rnd = random.Random(seed)
    base = 1_700_000_000_000 // HOUR * HOUR - 3 * HOUR   # an hour boundary, in the past
    span = 5 * HOUR
    notes = ["ok", "température élevée", "水位", "quote \\\" and tab \\t", "emoji \U0001F321"]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            p = i % PARTITIONS
            sensor = "s-%03d" % rnd.randrange(50)
            # Mostly in order, some readings up to 5 minutes late (around the boundaries too).
            t = base + i * span // n - (rnd.randrange(300_000) if rnd.random() < 0.1 else 0)
            if rnd.random() < 0.004:
                value = "not json %d {" % i
            else:
                value = json.dumps({"t": t, "sensor": sensor, "v": round(rnd.uniform(-20, 40), 3),
                                    "i": i, "note": rnd.choice(notes)}, ensure_ascii=rnd.random() < 0.5)
            f.write("%d\t%s\t%s\n" % (p, sensor, value))


def read_topic(boot, topic):
    """{(partition, offset): (key bytes, value bytes, headers, timestamp ms)} as the broker holds them."""
    c = Consumer({"bootstrap.servers": boot, "group.id": "ref-" + uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    md = c.list_topics(topic, timeout=10)
    parts = list(md.topics[topic].partitions)
    ends = {}
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        ends[p] = hi
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out = {}
    deadline = time.time() + 60
    while any(ends[p] > 0 and (p, ends[p] - 1) not in out for p in parts) and time.time() < deadline:
        for m in c.consume(1000, 0.5):
            if not m.error():
                out[(m.partition(), m.offset())] = (m.key(), m.value(), dict(m.headers() or []), m.timestamp()[1])
    c.close()
    return out


def reading_time(value, field="t"):
    try:
        t = json.loads(value)[field]
        return t if isinstance(t, int) else None
    except (ValueError, TypeError, KeyError):
        return None


def hour_dir(ms):
    d = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return "dt=%s/hour=%02d" % (d.strftime("%Y-%m-%d"), d.hour)


def compare(boot, topic, dlq_topic, root, final, time_field="t", raw=False):
    """The checks as (ok, what) pairs; time_field names the reading's time member; raw: every
    message is archived at its Kafka timestamp."""
    res = []

    def check(cond, what):
        res.append((bool(cond), what))

    def when(m):  # a message's record time, or None if the source dead-letters it
        return m[3] if raw else reading_time(m[1], time_field)

    msgs = read_topic(boot, topic)
    good = {k: v for k, v in msgs.items() if when(v) is not None}
    bad = set(msgs) - set(good)
    seen = {}
    errors = []
    ranges = {}
    inprogress = []
    for d, _, files in os.walk(root):
        for name in files:
            path = os.path.join(d, name)
            if name.startswith("."):
                inprogress.append(path)
                continue
            m = NAME.match(name)
            if not m or m["topic"] != topic:
                errors.append("unexpected file " + path)
                continue
            p, first, last = int(m["p"]), int(m["first"]), int(m["last"])
            ranges.setdefault(p, []).append((first, last, path))
            offsets = []
            try:
                recs = list(DataFileReader(open(path, "rb"), DatumReader()))
            except Exception as e:  # a truncated or corrupt file is a finding, not a crash
                errors.append("%s is not a readable Avro file: %s" % (path, e))
                continue
            for rec in recs:
                key = (rec["partition"], rec["offset"])
                offsets.append(rec["offset"])
                seen[key] = seen.get(key, 0) + 1
                if rec["topic"] != topic or rec["partition"] != p:
                    errors.append("%s holds %s[%d]" % (path, rec["topic"], rec["partition"]))
                if key not in good:
                    errors.append("%s holds %s, not a valid reading of the topic" % (path, key))
                    continue
                k, v = good[key][:2]
                if rec["key"] != k or rec["value"] != v:
                    errors.append("%s: %s differs: %r/%r, topic has %r/%r" % (path, key, rec["key"],
                                                                             rec["value"][:60], k, v[:60]))
                t = when(good[key])
                ts = rec["timestamp"]
                if isinstance(ts, datetime):
                    ts = (ts - EPOCH) // timedelta(milliseconds=1)
                if ts != t:
                    errors.append("%s: %s timestamp %s, the reading says %d" % (path, key, ts, t))
                if os.path.relpath(d, root) != hour_dir(t):
                    errors.append("%s: %s (t=%d) belongs in %s" % (path, key, t, hour_dir(t)))
            if not offsets or min(offsets) != first or max(offsets) != last:
                errors.append("%s: the name says %d-%d, it holds %s" % (
                    path, first, last, "%d-%d" % (min(offsets), max(offsets)) if offsets else "nothing"))
    overlaps = 0
    for p, rs in ranges.items():
        rs.sort()
        overlaps += sum(1 for a, b in zip(rs, rs[1:]) if b[0] <= a[1])
    missing = [k for k in good if k not in seen]
    twice = [k for k, c in seen.items() if c > 1]
    dlq = read_topic(boot, dlq_topic) if bad or raw else {}
    in_dlq = {(int(h["spate.partition"]), int(h["spate.offset"])) for _, _, h, _ in dlq.values()
              if h.get("spate.topic", b"").decode() == topic}
    nfiles = sum(len(rs) for rs in ranges.values())
    check(not missing, "every %s archived (%d of %d; missing e.g. %s)" % (
        "message" if raw else "valid reading", len(good) - len(missing), len(good), sorted(missing)[:3]))
    check(not twice, "none twice (%d duplicated, e.g. %s)" % (len(twice), sorted(twice)[:3]))
    check(not errors, "contents, names and directories match the topic (%d files; %s)" % (
        nfiles, "; ".join(errors[:3]) or "no difference"))
    check(nfiles and not overlaps, "the files of each partition hold disjoint offset ranges (%d overlaps)" % overlaps)
    if raw:
        malformed = sum(1 for m in msgs.values() if reading_time(m[1], time_field) is None)
        check(malformed and not dlq, "the %d malformed readings are archived too: nothing dead-lettered (%d)" % (
            malformed, len(dlq)))
    else:
        check(bad <= in_dlq, "the %d malformed readings are in the DLQ, not the archive (%d missing)" % (
            len(bad), len(bad - in_dlq)))
    if final:
        check(not inprogress, "no in-progress file left (%s)" % (inprogress[:2] or "none"))
    return res


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return 0
    boot, topic, dlq, root = sys.argv[2:6]
    res = compare(boot, topic, dlq, root, "--final" in sys.argv, raw="--raw" in sys.argv)
    if "-q" not in sys.argv:
        for good, what in res:
            print(("ok - " if good else "not ok - ") + what)
    return 0 if all(g for g, _ in res) else 1


if __name__ == "__main__":
    sys.exit(main())
