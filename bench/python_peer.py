#!/usr/bin/python3
"""python_peer.py - the plain-Python peers of the benchmarks: confluent-kafka consumers in a
group with the client's default fetch settings (what a user gets, and what their peak RSS
is measured with), as a hand-written job would be written.

  python_peer.py BOOTSTRAP TOPIC N            hourly mean by region over the legacy records:
      json.loads, a dict of sums and counts per (region, hour), offsets committed every second
  python_peer.py --map BOOTSTRAP IN OUT N     map -> sink of bench/map_sink.yaml: json.loads,
      {sensor, region, ts, temp_f = temp * 9 / 5 + 32} json.dumps'ed to OUT through a producer
      with spate's producer settings; offsets committed every second once what was produced
      before is acknowledged (at-least-once)
  python_peer.py --region BOOTSTRAP TOPIC N GEOJSON   the issue-20 job on sensor-shaped records:
      json.loads, datetime.fromisoformat(timestamp), France kept, the first region (GeoJSON
      order) whose bounding box holds the point, sums and counts per (region, hour); no state
      store, no repartition
Prints "python: N records in T s = R records/s" (first to last record)."""
import datetime
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer


def consumer(boot, topic):
    c = Consumer({"bootstrap.servers": boot, "group.id": "py-peer-" + uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 4000, "heartbeat.interval.ms": 500})
    c.subscribe([topic])
    return c


def commit(c):
    try:
        c.commit(asynchronous=False)
    except KafkaException as e:
        if e.args[0].code() != KafkaError._NO_OFFSET:  # nothing new since the last commit
            raise


def run(c, want, handle, before_commit=None):
    """Feeds every record to handle(message); commits every second. Returns (n, first, last)."""
    n = 0
    t0 = t1 = None
    last_commit = time.time()
    deadline = time.time() + 300
    while n < want and time.time() < deadline:
        for m in c.consume(1000, 0.1):
            if m.error():
                continue
            handle(m)
            n += 1
            if t0 is None:
                t0 = time.time()
        t1 = time.time()
        if n and t1 - last_commit >= 1:
            if before_commit:
                before_commit()
            commit(c)
            last_commit = t1
    if before_commit:
        before_commit()
    commit(c)
    c.close()
    return n, t0, t1


def hourly(boot, topic, want):
    sums = {}

    def handle(m):
        r = json.loads(m.value())
        k = (r["region"], r["ts"] // 3600000 * 3600000)
        s = sums.get(k)
        if s is None:
            sums[k] = s = [0.0, 0]
        s[0] += r["temp"]
        s[1] += 1
    n, t0, t1 = run(consumer(boot, topic), want, handle)
    return n, t0, t1, "%d region-hours" % len(sums)


def mapper(boot, topic, out, want):
    p = Producer({"bootstrap.servers": boot, "linger.ms": 5, "compression.codec": "lz4",
                  "partitioner": "murmur2_random"})
    failed = []

    def report(err, m):
        if err:
            failed.append(err)

    def handle(m):
        r = json.loads(m.value())
        v = json.dumps({"sensor": r["sensor"], "region": r["region"], "ts": r["ts"],
                        "temp_f": r["temp"] * 9 / 5 + 32}, ensure_ascii=False, separators=(",", ":"))
        while True:
            try:
                p.produce(out, value=v.encode(), key=m.key(), on_delivery=report)
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    n, t0, t1 = run(consumer(boot, topic), want, handle, lambda: p.flush(60))
    return n, t0, t1, "%d failed deliveries" % len(failed)


def bboxes(path):
    """(name, min lon, min lat, max lon, max lat) per feature, in file order."""
    out = []
    for f in json.load(open(path, encoding="utf-8"))["features"]:
        xs, ys = [], []

        def walk(c):
            if isinstance(c[0], (int, float)):
                xs.append(c[0])
                ys.append(c[1])
            else:
                for x in c:
                    walk(x)
        walk(f["geometry"]["coordinates"])
        out.append((f["properties"]["nom"], min(xs), min(ys), max(xs), max(ys)))
    return out


def region(boot, topic, want, geojson):
    boxes = bboxes(geojson)
    sums = {}

    def handle(m):
        r = json.loads(m.value())
        if r["country"] != "France":
            return
        lat, lon = r["lat"], r["lon"]
        name = next((b[0] for b in boxes if b[1] <= lon <= b[3] and b[2] <= lat <= b[4]), None)
        if name is None:
            return
        t = datetime.datetime.fromisoformat(r["timestamp"]).replace(tzinfo=datetime.timezone.utc)
        k = (name, int(t.timestamp()) // 3600)
        s = sums.get(k)
        if s is None:
            sums[k] = s = [0.0, 0]
        s[0] += r["temperature"]
        s[1] += 1
    n, t0, t1 = run(consumer(boot, topic), want, handle)
    return n, t0, t1, "%d region-hours, %d readings kept" % (len(sums), sum(s[1] for s in sums.values()))


a = sys.argv[1:]
if a[0] == "--map":
    n, t0, t1, what = mapper(a[1], a[2], a[3], int(a[4]))
elif a[0] == "--region":
    n, t0, t1, what = region(a[1], a[2], int(a[3]), a[4])
else:
    n, t0, t1, what = hourly(a[0], a[1], int(a[2]))
print("python: %d records in %.3f s = %.0f records/s (%s)" % (n, t1 - t0, n / (t1 - t0), what))
