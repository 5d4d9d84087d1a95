#!/usr/bin/python3
"""python_peer.py BOOTSTRAP TOPIC N - the plain-Python peer of the hourly-region-mean benchmark:
a confluent-kafka consumer in a group that json.loads every record, keeps a dict of sums and
counts per (region, hour), and commits offsets every second, as a hand-written job would.
Prints "python: N records in T s = R records/s" (first to last record) and the window count."""
import json
import sys
import time
import uuid

from confluent_kafka import Consumer

boot, topic, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": boot, "group.id": "py-peer-" + uuid.uuid4().hex,
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "session.timeout.ms": 4000, "heartbeat.interval.ms": 500,
              "queued.min.messages": 10000000, "queued.max.messages.kbytes": 131072,
              "fetch.error.backoff.ms": 50, "fetch.wait.max.ms": 50})
c.subscribe([topic])
sums = {}
n = 0
t0 = t1 = None
last_commit = time.time()
deadline = time.time() + 300
while n < want and time.time() < deadline:
    for m in c.consume(1000, 0.1):
        if m.error():
            continue
        r = json.loads(m.value())
        k = (r["region"], r["ts"] // 3600000 * 3600000)
        s = sums.get(k)
        if s is None:
            sums[k] = s = [0.0, 0]
        s[0] += r["temp"]
        s[1] += 1
        n += 1
        if t0 is None:
            t0 = time.time()
    t1 = time.time()
    if n and t1 - last_commit >= 1:
        c.commit(asynchronous=False)
        last_commit = t1
c.commit(asynchronous=False)
c.close()
print("python: %d records in %.3f s = %.0f records/s (%d region-hours)" % (n, t1 - t0, n / (t1 - t0), len(sums)))
