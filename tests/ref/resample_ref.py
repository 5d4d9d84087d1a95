#!/usr/bin/python3
"""resample_ref.py - IoT readings with dropouts, a stuck, a spiky and a silent
sensor, and the independent reference of their resampling (test 0860): a
tumbling 10 s window per sensor with fill (previous and null) and the
data-quality aggregates, computed here from the readings alone.

  gen SEED OUT.tsv            readings as "partition<TAB>sensor<TAB>json" lines
                              ({"t": ms, "temp": C}), each partition in time order;
                              also OUT.1 .. OUT.4: its four 5-minute quarters
  compare IN.tsv PREV.jsonl NULL.jsonl LINEAR.jsonl [-q]
                              every message of both output topics against the
                              reference (not only the latest per key: a replay must
                              emit the same values); TAP lines, exit 0 when exact

Semantics checked (README "Resampling and data quality"): one row per sensor and
10 s interval from its first reading on, up to the intervals its partition's
stream time (the largest t of the partition, grace 0) has closed. An interval
without readings k intervals after the sensor's last one with readings is a gap
while k * 10 s <= fill_max (60 s), the last of them stale; past that, none until
the sensor reports again. In a gap the counting aggregates (n, out_of_range,
spikes, completeness) are 0, staleness runs on from the last reading, and the
values are the last interval's (fill: previous) or null (fill: null). With
fill: linear a run of gaps comes out once the next interval with readings
closed, its values interpolated by interval between the two neighbours, or
once the interval after its stale gap closed without readings (the sensor went
silent), with null values.
"""
import json
import math
import random
import sys
from collections import defaultdict

from refcli import main, report

SIZE = 10_000
FILL_MAX = 60_000
EVERY = 2_000          # completeness(2s)
LIMIT = 5              # spikes(temp, 5)
BASE = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SPAN = 1_200_000       # 20 minutes of event time
PARTS = 3


def gen(seed, out):
    rnd = random.Random(seed)
    rows = []
    for i in range(12):
        sensor = "s%02d" % i
        part = i % PARTS
        t = BASE + rnd.randrange(0, EVERY)
        skip_until = 0
        while t < BASE + SPAN:
            rel = t - BASE
            if sensor == "s11" and rel >= 300_000:
                break                                   # silent for good
            if sensor == "s08" and 300_000 <= rel < 700_000:
                t += EVERY                              # silent longer than fill_max, then back
                continue
            if i >= 3 and t >= skip_until and rnd.random() < 0.01:
                skip_until = t + rnd.randrange(5_000, 75_000)   # a dropout
            if t < skip_until:
                t += EVERY
                continue
            temp = round(20 + 5 * math.sin(rel / 200_000 + i) + rnd.uniform(-1, 1), 1)
            if sensor == "s09" and 400_000 <= rel < 800_000:
                temp = 21.5                             # stuck
            if sensor == "s10" and rnd.random() < 0.08:
                temp = round(temp + rnd.choice([-1, 1]) * rnd.uniform(6, 40), 1)  # spikes, out of range
            rows.append((part, t, sensor, temp))
            t += EVERY + rnd.choice([-300, 0, 0, 300])
    rows.sort(key=lambda r: (r[0], r[1]))
    quarters = [open("%s.%d" % (out, q + 1), "w") for q in range(4)]
    with open(out, "w") as f:
        for part, t, sensor, temp in rows:
            line = "%d\t%s\t%s\n" % (part, sensor, json.dumps({"t": t, "temp": temp}))
            f.write(line)
            quarters[min(3, (t - BASE) * 4 // SPAN)].write(line)
    for q in quarters:
        q.close()


def welford_sd(xs):
    if len(xs) < 2:
        return None
    m = math.fsum(xs) / len(xs)
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def interval(readings, start):
    xs = [x for _, x in readings]
    return {
        "mean": math.fsum(xs) / len(xs),
        "n": len(xs),
        "out_of_range": sum(1 for x in xs if x < 0 or x > 45),
        "sd": welford_sd(xs),
        "stuck": len(xs) >= 2 and len(set(xs)) == 1,
        "spikes": sum(1 for a, b in zip(xs, xs[1:]) if abs(b - a) > LIMIT),
        "completeness": len(xs) * EVERY / SIZE,
        "staleness": (start + SIZE - readings[-1][0]) / 1000,
        "gap": False,
        "stale": False,
    }


COUNTING = ("n", "out_of_range", "spikes", "completeness")


def expect(src):
    """{"prev"|"null": {"sensor@start": row}}"""
    by_sensor = defaultdict(list)
    part_time = defaultdict(int)
    part_of = {}
    with open(src) as f:
        for line in f:
            part, sensor, value = line.rstrip("\n").split("\t")
            r = json.loads(value)
            by_sensor[sensor].append((r["t"], r["temp"]))
            part_of[sensor] = int(part)
            part_time[int(part)] = max(part_time[int(part)], r["t"])
    prev, null, linear = {}, {}, {}
    for sensor, readings in by_sensor.items():
        readings.sort()
        per = defaultdict(list)
        for t, x in readings:
            per[t // SIZE * SIZE].append((t, x))
        closed_by = part_time[part_of[sensor]]
        last = None   # (start, row, time of its last reading)
        s = min(per)
        while s + SIZE <= closed_by:
            key = "%s@%d" % (sensor, s)
            if s in per:
                row = interval(per[s], s)
                last = (s, row, per[s][-1][0])
                prev[key] = row
                null[key] = {k: row[k] for k in ("mean", "n", "staleness", "gap", "stale")}
            else:
                k = (s - last[0]) // SIZE
                if k * SIZE <= FILL_MAX:
                    row = dict(last[1])
                    for c in COUNTING:
                        row[c] = 0
                    row["staleness"] = (s + SIZE - last[2]) / 1000
                    row["gap"] = True
                    row["stale"] = (k + 1) * SIZE > FILL_MAX
                    prev[key] = row
                    null[key] = {"mean": None, "n": 0, "staleness": row["staleness"], "gap": True,
                                 "stale": row["stale"]}
            s += SIZE
        linear.update(expect_linear(sensor, per, closed_by))
    return {"prev": prev, "null": null, "linear": linear}


def expect_linear(sensor, per, closed_by):
    out = {}
    starts = sorted(per)
    rows = {s: interval(per[s], s) for s in starts}
    k_max = FILL_MAX // SIZE
    for i, p in enumerate(starts):
        row = rows[p]
        if p + SIZE <= closed_by:
            out["%s@%d" % (sensor, p)] = {"mean": row["mean"], "mx": max(x for _, x in per[p]),
                                          "n": row["n"], "staleness": row["staleness"],
                                          "gap": False, "stale": False}
        nxt = starts[i + 1] if i + 1 < len(starts) else None
        d = (nxt - p) // SIZE if nxt is not None else None
        if d == 1:
            continue
        silent = d is None or (d - 1) > k_max
        gaps = k_max if silent else d - 1
        # silent: once the interval after the stale gap closed (without readings)
        done_at = p + (gaps + 2) * SIZE if silent else nxt + SIZE
        if done_at > closed_by:
            continue                                        # still pending
        last_t = per[p][-1][0]
        for k in range(1, gaps + 1):
            s = p + k * SIZE
            if silent:
                mean = mx = None
            else:
                f = k * SIZE / (nxt - p)
                mean = row["mean"] + (rows[nxt]["mean"] - row["mean"]) * f
                mp, mq = max(x for _, x in per[p]), max(x for _, x in per[nxt])
                mx = mp + (mq - mp) * f
            out["%s@%d" % (sensor, s)] = {"mean": mean, "mx": mx, "n": 0,
                                          "staleness": (s + SIZE - last_t) / 1000, "gap": True,
                                          "stale": (k + 1) * SIZE > FILL_MAX}
    return out


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b or a == b and type(a) is type(b)
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1)


def check_topic(name, exp, path, results):
    got = defaultdict(list)
    with open(path) as f:
        for line in f:
            m = json.loads(line)
            if m["value"] is None:
                got[m["key"]].append(None)
                continue
            row = json.loads(m["value"])
            got["%s@%d" % (row["key"], row["window_start"])].append(row)
    missing = sorted(set(exp) - set(got))
    extra = sorted(set(got) - set(exp))
    wrong = []
    for key in sorted(set(exp) & set(got)):
        for row in got[key]:
            bad = [c for c in exp[key] if row is None or not same(row.get(c), exp[key][c])]
            if bad:
                wrong.append("%s %s: got %s, want %s" % (key, bad[0], row and row.get(bad[0]),
                                                         exp[key][bad[0]]))
                break
    gaps = sum(1 for r in exp.values() if r["gap"])
    stale = sum(1 for r in exp.values() if r["stale"])
    results.append((not missing and not extra,
                    "%s: the %d intervals of the reference (%d gaps, %d stale), no other "
                    "(missing %s, extra %s)" % (name, len(exp), gaps, stale, missing[:3], extra[:3])))
    results.append((not wrong, "%s: every message of every interval equals the reference "
                    "(values, nulls, flags)%s" % (name, "; " + "; ".join(wrong[:3]) if wrong else "")))


def compare(src, prev_path, null_path, linear_path, quiet):
    exp = expect(src)
    results = []
    check_topic("fill: previous", exp["prev"], prev_path, results)
    check_topic("fill: null", exp["null"], null_path, results)
    check_topic("fill: linear", exp["linear"], linear_path, results)
    return report(results, quiet)


if __name__ == "__main__":
    main(__doc__, gen, compare, 4)
