#!/usr/bin/python3
"""kafka_tool.py - produce, consume and inspect topics for spate's integration tests.

An independent client (Debian's python3-confluent-kafka), so tests check spate
with a different Kafka implementation than the one it uses.

  produce  BOOT TOPIC FILE [--partitioned] [--empty-is-null] [--max-bytes N] [--batch N]
                                lines "key<TAB>value"
                                (or "value"; with --partitioned "partition<TAB>key<TAB>value"; with
                                --empty-is-null "key<TAB>" is a tombstone, a null value; --max-bytes
                                raises the producer's message.max.bytes; --batch N writes record
                                batches of at most N records), checks watermarks after
  consume  BOOT TOPIC [--idle S] [--max N] [--latest]   JSON lines {key,value,partition,offset,headers}
  count    BOOT TOPIC           total records (sum of high - low watermarks)
  committed BOOT GROUP TOPIC    the group's committed offset per partition, "P OFFSET" lines
  lag      BOOT GROUP TOPIC     records of TOPIC past the group's committed offsets (0: drained)
  dump     BOOT SUFFIX DIR      every topic whose name ends in SUFFIX, whole, to DIR/<topic>.bin:
                                binary records (partition u32, offset u64, key and value each a u32
                                length, 0xffffffff for null, and the bytes), partition by partition
"""
import json
import os
import struct
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition


def produce(boot, topic, path, partitioned=False, empty_is_null=False, max_bytes=None, batch=None):
    conf = {"bootstrap.servers": boot, "linger.ms": 20, "compression.codec": "lz4",
            "queue.buffering.max.messages": 1000000}
    if max_bytes:
        conf["message.max.bytes"] = max_bytes
    if batch:
        conf["batch.num.messages"] = batch
    p = Producer(conf)
    failed = []
    n = 0
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            part = -1
            if partitioned:
                part, _, line = line.partition(b"\t")
                part = int(part)
            key, sep, value = line.partition(b"\t")
            if not sep:
                key, value = None, line
            elif empty_is_null and not value:
                value = None
            while True:
                try:
                    p.produce(topic, value=value, key=key, partition=part,
                              on_delivery=lambda err, m: err and failed.append(err))
                    break
                except BufferError:
                    p.poll(0.05)
            n += 1
            if n % 10000 == 0:
                p.poll(0)
    p.flush(60)
    if failed:
        sys.exit("produce: %d deliveries failed: %s" % (len(failed), failed[0]))
    total = count(boot, topic)
    if total < n:
        sys.exit("produce: wrote %d records but the topic holds %d (broker dropped data?)" % (n, total))
    print("produced %d" % n, file=sys.stderr)


def count(boot, topic):
    c = Consumer({"bootstrap.servers": boot, "group.id": "kt-" + uuid.uuid4().hex})
    md = c.list_topics(timeout=10)
    total = 0
    for p in md.topics[topic].partitions:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        total += hi - lo
    c.close()
    return total


def consume(boot, topic, idle=3.0, maxn=None):
    c = Consumer({"bootstrap.servers": boot, "group.id": "kt-" + uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 50})
    md = c.list_topics(timeout=10)
    parts = [TopicPartition(topic, p, 0) for p in md.topics[topic].partitions]
    c.assign(parts)
    last = time.time()
    n = 0
    out = sys.stdout
    while time.time() - last < idle and (maxn is None or n < maxn):
        for m in c.consume(1000, 0.2):
            if m.error():
                continue
            last = time.time()
            hdrs = {k: (v.decode() if v is not None else None) for k, v in (m.headers() or [])}
            rec = {"key": m.key().decode() if m.key() is not None else None,
                   "value": m.value().decode("utf-8", "replace") if m.value() is not None else None,
                   "partition": m.partition(), "offset": m.offset(), "headers": hdrs}
            out.write(json.dumps(rec) + "\n")
            n += 1
    c.close()


def dump(boot, suffix, outdir):
    """Each topic ending in suffix, read to its high watermarks as they are now, to outdir."""
    c = Consumer({"bootstrap.servers": boot, "group.id": "kt-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "fetch.wait.max.ms": 50})
    os.makedirs(outdir, exist_ok=True)
    for topic, md in sorted(c.list_topics(timeout=10).topics.items()):
        if not topic.endswith(suffix):
            continue
        with open(os.path.join(outdir, topic + ".bin"), "wb") as out:
            for p in sorted(md.partitions):
                lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                if hi > lo:
                    dump_partition(c, TopicPartition(topic, p, lo), hi, out)
    c.close()


def dump_partition(c, tp, hi, out):
    def field(b):
        return struct.pack(">I", 0xffffffff) if b is None else struct.pack(">I", len(b)) + b
    c.assign([tp])
    done = tp.offset
    last = time.time()
    # Transaction markers take offsets no message has: the end is hi, or 2 s without a message.
    while done < hi and time.time() - last < 2:
        for m in c.consume(1000, 0.2):
            if m.error():
                continue
            last = time.time()
            out.write(struct.pack(">IQ", m.partition(), m.offset()) + field(m.key()) + field(m.value()))
            done = m.offset() + 1
    c.unassign()


def committed(boot, group, topic):
    """The group's committed offset of each partition of topic, as "P OFFSET" lines (-1: none)."""
    c = Consumer({"bootstrap.servers": boot, "group.id": group, "enable.auto.commit": False})
    md = c.list_topics(timeout=10)
    parts = [TopicPartition(topic, p) for p in sorted(md.topics[topic].partitions)]
    for tp in c.committed(parts, timeout=10):
        print(tp.partition, tp.offset if tp.offset >= 0 else -1)
    c.close()


def lag(boot, group, topic):
    """Records of topic past the group's committed offsets (from the low watermark where none)."""
    c = Consumer({"bootstrap.servers": boot, "group.id": group, "enable.auto.commit": False})
    md = c.list_topics(timeout=10)
    parts = [TopicPartition(topic, p) for p in sorted(md.topics[topic].partitions)]
    total = 0
    for tp in c.committed(parts, timeout=10):
        low, high = c.get_watermark_offsets(tp, timeout=10)
        total += high - max(tp.offset, low)
    c.close()
    return total


def main():
    cmd, boot, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "committed":
        committed(boot, topic, sys.argv[4])
        return
    if cmd == "lag":
        print(lag(boot, topic, sys.argv[4]))
        return
    if cmd == "produce":
        max_bytes = int(sys.argv[sys.argv.index("--max-bytes") + 1]) if "--max-bytes" in sys.argv else None
        batch = int(sys.argv[sys.argv.index("--batch") + 1]) if "--batch" in sys.argv else None
        produce(boot, topic, sys.argv[4], "--partitioned" in sys.argv, "--empty-is-null" in sys.argv,
                max_bytes, batch)
    elif cmd == "dump":
        dump(boot, topic, sys.argv[4])
    elif cmd == "count":
        print(count(boot, topic))
    elif cmd == "consume":
        idle = float(sys.argv[sys.argv.index("--idle") + 1]) if "--idle" in sys.argv else 3.0
        maxn = int(sys.argv[sys.argv.index("--max") + 1]) if "--max" in sys.argv else None
        consume(boot, topic, idle, maxn)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
