#!/usr/bin/python3
"""gen_region_temps.py - sensor readings for topology/region_temps.yaml, deterministic by seed.

  gen_region_temps.py SEED OUTDIR [HOURS]

Writes OUTDIR/phase-K.tsv for K = 0..HOURS, lines "partition<TAB>id<TAB>JSON" (kafka_tool.py
produce --partitioned) over 4 partitions, each reading shaped like
/work/shared/data/iot/bcm_mockaroo_temperatures_sample.json: {id, timestamp "YYYY-MM-DD HH:MM:SS"
(UTC), lat, lon, temperature, country}. Phase K (K < HOURS) holds hour K's readings across the
bounding box of metropolitan France (some fall in no region's box), in this order: readings of
minutes 0-4, then readings of hour K-1 that are late but within a 10-minute grace, then the rest of
hour K (every partition passes minute 10, which closes hour K-1), then a few readings of hour K-2,
too late for any grace. About 15 % of the rows are from other countries. The last phase holds
readings of minute 15 of hour HOURS in every partition: they close hour HOURS-1 and stay open.
Hours are few readings each, so a small region has hours without any (a null 3 hours later).
Corrections: after the regular rows of phase K (K < HOURS), new versions (same id, time and
place, another temperature; in the original's partition) of about a third of the Paris readings
of hours K (their window still open), K-1 (closed: a revision) and K-2 (closed an hour before:
a revision or, past the window's retention, a dead letter).
"""
import calendar
import json
import random
import sys
import time
import uuid

T0 = 1764460800  # 2025-11-30 00:00:00 UTC, in seconds
PARTITIONS = 4


PARIS = (48.8566, 2.3522)  # in Île-de-France, the first region: readings that surely reach the window


def reading(r, t, france=True, at=None):
    if at:
        (lat, lon), country = at, "France"
    elif france:
        lat, lon, country = r.uniform(42.3, 51.0), r.uniform(-4.8, 8.2), "France"
    else:
        lat, lon = r.uniform(36.0, 60.0), r.uniform(-10.0, 25.0)
        country = r.choice(["Spain", "Germany", "Italy", "Belgium"])
    return {"id": str(uuid.UUID(int=r.getrandbits(128), version=4)),
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)),
            "lat": round(lat, 7), "lon": round(lon, 7),
            "temperature": round(r.uniform(-8.0, 32.0) + r.random() / 1000, 4), "country": country}


def hour_rows(r, h, minutes, n):
    """n readings of hour h with minutes in [minutes[0], minutes[1])."""
    out = []
    for _ in range(n):
        t = T0 + h * 3600 + r.randrange(minutes[0] * 60, minutes[1] * 60)
        out.append(reading(r, t, r.random() >= 0.15))
    return out


def phase(r, k, hours):
    if k == hours:
        return [reading(r, T0 + k * 3600 + 15 * 60, at=PARIS) for _ in range(2 * PARTITIONS)]
    rows = hour_rows(r, k, (0, 5), r.randint(2, 6))
    if k > 0:
        rows += hour_rows(r, k - 1, (50, 60), r.randint(2, 5))
    rest = hour_rows(r, k, (5, 60), r.randint(25, 70))
    # the last readings of each partition pass minute 10: hour k-1 closes in every partition
    rest += [reading(r, T0 + k * 3600 + r.randrange(10 * 60, 3600), at=PARIS) for _ in range(PARTITIONS)]
    rows += rest
    if k > 1:
        rows += hour_rows(r, k - 2, (0, 60), r.randint(1, 2))
    return rows


def corrections(r, paris, k):
    """New versions of Paris readings of hours k, k-1 and k-2: (partition, row)."""
    out = []
    for part, row in paris:
        hour = (calendar.timegm(time.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S")) - T0) // 3600
        if k - 2 <= hour <= k and r.random() < 0.35:
            fixed = dict(row, temperature=round(row["temperature"] + r.uniform(-4.0, 4.0), 4))
            out.append((part, fixed))
    return out


def main():
    seed, outdir = int(sys.argv[1]), sys.argv[2]
    hours = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    r = random.Random(seed)
    paris = []  # (partition, row) of the Paris readings so far
    for k in range(hours + 1):
        rows = [(i % PARTITIONS, row) for i, row in enumerate(phase(r, k, hours))]
        if k < hours:
            paris += [(p, row) for p, row in rows if (row["lat"], row["lon"]) == PARIS]
            rows += corrections(r, paris, k)
        with open("%s/phase-%d.tsv" % (outdir, k), "w") as f:
            for part, row in rows:
                f.write("%d\t%s\t%s\n" % (part, row["id"], json.dumps(row, ensure_ascii=False)))


if __name__ == "__main__":
    main()
