#!/usr/bin/python3
"""iot_ref.py - independent reference of the shipped IoT topologies (test 0460), computed from
what `spate iot-sim` published (its --log files) and the sensors file.

  compare SENSORS.json SIM_LOGS RAW.jsonl MINUTELY.jsonl [-q]
        SIM_LOGS: the simulator logs, comma-separated. RAW and MINUTELY are `kafka_tool.py consume`
        dumps of the raw topic and topology/iot_sensors.yaml's output topic. Checks: every
        published message is in the raw topic (rebuilt as mqtt_ref.py does), and every message of
        the output topic equals the 1-minute resample computed here: per sensor, from its first
        reading on, every interval its raw partition's stream time (largest ts) has closed
        (end + grace); an interval without readings is a gap row (null values, counts 0,
        staleness running on) up to fill_max after the sensor's last interval with readings,
        the last one stale. Limits (out of range, spikes over a quarter of the range) come from
        the sensors file's "range" (and iot_sensor_limits.csv beside it must hold the same).
        TAP-like lines; exit 0 when exact.
  archive BOOT TOPIC DLQ DIR SIM_LOGS
        archive_ref.py's checks (every raw-topic message archived exactly once, byte for byte,
        files named and placed right, none in progress) plus: the archive holds every published
        message, and nothing else, once its copies with the same mqtt_id are merged.
"""
import csv
import json
import math
import os
import sys
from collections import Counter, defaultdict

from avro.datafile import DataFileReader
from avro.io import DatumReader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import archive_ref  # noqa: E402
from mqtt_ref import fnv1a64  # noqa: E402
from resample_ref import check_topic, welford_sd  # noqa: E402

SIZE = 60_000
GRACE = 10_000
FILL_MAX = int(os.environ.get("IOT_FILL_MAX_MS", 15 * 60_000))
EVERY = 1_000          # completeness(1s)
SPIKE = 0.25           # of the sensor's range


def published(logs):
    """{mqtt_id: (sensor, ts, value)} of the well-formed published messages."""
    out = {}
    for path in logs.split(","):
        for line in open(path):
            m = json.loads(line)
            if m.get("fault") == "malformed":
                continue
            p = json.loads(m["payload"])
            out[fnv1a64(m["topic"].encode() + b"\0" + m["payload"].encode())] = (m["sensor"], p["ts"], p["value"])
    return out


def interval(xs, lo, hi, start, last_t):
    return {
        "readings": len(xs), "mean": math.fsum(xs) / len(xs), "min": min(xs), "max": max(xs),
        "sd": welford_sd(xs), "completeness": len(xs) * EVERY / SIZE,
        "out_of_range": sum(1 for x in xs if x < lo or x > hi),
        "spikes": sum(1 for a, b in zip(xs, xs[1:]) if abs((b - lo) / (hi - lo) - (a - lo) / (hi - lo)) > SPIKE),
        "stuck": len(xs) >= 2 and len(set(xs)) == 1,
        "staleness_s": (start + SIZE - last_t) / 1000, "gap": False, "stale": False,
    }


def expect(ranges, pub, part_of, part_time):
    by_sensor = defaultdict(list)
    for sensor, ts, v in pub.values():
        by_sensor[sensor].append((ts, v))
    out = {}
    for sensor, readings in by_sensor.items():
        lo, hi = ranges[sensor]
        readings.sort()
        per = defaultdict(list)
        for t, x in readings:
            per[t // SIZE * SIZE].append((t, x))
        closed_by = part_time[part_of[sensor]]
        last = None     # (start, time of its last reading)
        s = min(per)
        while s + SIZE + GRACE <= closed_by:
            if s in per:
                last = (s, per[s][-1][0])
                out["%s@%d" % (sensor, s)] = interval([x for _, x in per[s]], lo, hi, s, last[1])
            else:
                k = (s - last[0]) // SIZE
                if k * SIZE <= FILL_MAX:
                    out["%s@%d" % (sensor, s)] = {
                        "readings": 0, "mean": None, "min": None, "max": None, "sd": None,
                        "completeness": 0, "out_of_range": 0, "spikes": 0, "stuck": None,
                        "staleness_s": (s + SIZE - last[1]) / 1000, "gap": True,
                        "stale": (k + 1) * SIZE > FILL_MAX}
            s += SIZE
    return out


def load(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def compare(sensors, logs, raw_path, out_path, quiet):
    ranges = {s["id"]: tuple(s["range"]) for s in json.load(open(sensors))["sensors"]}
    with open(os.path.join(os.path.dirname(sensors), "iot_sensor_limits.csv")) as f:
        table = {r["sensor_id"]: (float(r["lo"]), float(r["hi"])) for r in csv.DictReader(f)}
    pub = published(logs)
    raw = load(raw_path)
    part_of, part_time, ids = {}, defaultdict(int), set()
    for r in raw:
        v = json.loads(r["value"])
        part_of.setdefault(r["key"], set()).add(r["partition"])
        part_time[r["partition"]] = max(part_time[r["partition"]], v["ts"])
        ids.add(v["mqtt_id"])
    res = [(table == ranges, "iot_sensor_limits.csv holds the ranges of %s" % os.path.basename(sensors)),
           (ids == set(pub), "the raw topic holds every one of the %d published messages and no other "
            "(%d missing, %d unknown; %d records)" % (len(pub), len(set(pub) - ids), len(ids - set(pub)), len(raw))),
           (all(len(p) == 1 for p in part_of.values()), "each sensor's records are in one partition")]
    part_of = {k: min(p) for k, p in part_of.items()}
    exp = expect(ranges, pub, part_of, part_time)
    check_topic("1-minute resample", exp, out_path, res)
    n = lambda c: sum(1 for r in exp.values() if r[c])   # noqa: E731
    print("# reference: %d rows, %d gaps, %d stale, %d with out-of-range readings, %d with spikes, %d stuck"
          % (len(exp), n("gap"), n("stale"), n("out_of_range"), n("spikes"), n("stuck")))
    if not quiet:
        for ok, what in res:
            print("%s - %s" % ("ok" if ok else "not ok", what))
    return all(ok for ok, _ in res)


def archive(boot, topic, dlq, root, logs):
    res = archive_ref.compare(boot, topic, dlq, root, True, time_field="ts")
    pub = published(logs)
    copies = defaultdict(int)
    for d, _, files in os.walk(root):
        for name in files:
            if name.endswith(".avro"):
                for rec in DataFileReader(open(os.path.join(d, name), "rb"), DatumReader()):
                    copies[json.loads(rec["value"])["mqtt_id"]] += 1
    res.append((set(copies) == set(pub), "merged by mqtt_id, the archive holds exactly the %d published "
                "messages (%d missing, %d unknown; %d records, copies per message: %s)" % (
                    len(pub), len(set(pub) - set(copies)), len(set(copies) - set(pub)), sum(copies.values()),
                    dict(sorted(Counter(copies.values()).items())))))
    for ok, what in res:
        print("%s - %s" % ("ok" if ok else "not ok", what))
    return all(ok for ok, _ in res)


if __name__ == "__main__":
    if sys.argv[1] == "compare":
        sys.exit(0 if compare(*sys.argv[2:6], "-q" in sys.argv) else 1)
    elif sys.argv[1] == "archive":
        sys.exit(0 if archive(*sys.argv[2:7]) else 1)
    sys.exit(__doc__)
