#!/usr/bin/python3
"""region_temps_ref.py - independent reference for 0760 (topology/region_temps.yaml).

  expected DIR                 the reference's rows (region, hour, mean, count, 3h before) and
                               the number of dead letters expected, as JSON lines (for a look)
  ready DIR DB HOUR            exit 0 once DB's region_hourly_temps holds every row of hours <= HOUR
                               (DB: a SQLite file, or a .tsv dump of the table's columns from psql)
  compare DIR DB [DLQ] [-q]    every row of DB's region_hourly_temps against the reference, and
                               the readings in DLQ (kafka_tool.py consume lines; replays after a
                               kill -9 may repeat one) against the dead letters expected; ok /
                               not ok lines (-q: the rows only, exit status only)

DIR holds the generator's phase-K.tsv files (partition, id, JSON reading), produced in order.
From them, on its own: France only; the region is the first feature of
topology/regions/france_regions.geojson whose bounding box holds the point (none: a dead letter);
a reading is late (a dead letter) when its hour's end + 10 min grace is at or before the largest
time seen before it in its partition among the readings that reached the window; per region and
hour the mean temperature and the count, the latest version of each id counting once (a version
past the window's retention - 70 min after it closed, by its partition's stream time - is a dead
letter); temperature3HoursBefore is the mean of the same region
3 hours before, null without readings then. The topology emits each hour when it closes, and
again when the row 3 hours before reaches its table later (join retention), so the upserted
table ends with that value whatever order the rows were read back in: a null means exactly that
the region had no reading 3 hours before. The table is compared as it ends (one row per region
and hour, the last version upserted), not the versions it went through. The last phase's hour
never closes: it has no row.
"""
import calendar
import glob
import json
import math
import os
import sqlite3
import sys
import time

HOUR = 3600 * 1000
GRACE = 10 * 60 * 1000
RETENTION = HOUR + GRACE  # the window's default: size + grace after it closed
GEOJSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../topology/regions/france_regions.geojson")


def boxes():
    out = []
    with open(GEOJSON, encoding="utf-8") as f:
        for feat in json.load(f)["features"]:
            pts = []

            def walk(c):
                if isinstance(c[0], (int, float)):
                    pts.append(c)
                else:
                    for x in c:
                        walk(x)
            walk(feat["geometry"]["coordinates"])
            lons, lats = [p[0] for p in pts], [p[1] for p in pts]
            out.append((feat["properties"]["nom"], min(lats), max(lats), min(lons), max(lons)))
    return out


def phases(d):
    files = glob.glob(os.path.join(d, "phase-*.tsv"))
    return [os.path.join(d, "phase-%d.tsv" % k) for k in range(len(files))]


def expected(d):
    """{(region, hour ms): (mean, count, mean 3h before or None)}, {dead letter (partition, offset):
    'box' | 'late'}, the number of readings that came after their hour ended in their partition,
    within the grace. A new version of a reading the window took (same id) replaces its
    temperature while its window is open or kept (retention: size + grace after it closed, by
    its partition's stream time); past that it is a dead letter."""
    regs = boxes()
    stream = {}
    offsets = {}
    acc = {}       # (region, hour) -> {id: temperature of its latest version}
    took = {}      # id -> (region, hour) of the window that took it
    dlq = {}
    within_grace = 0
    last = 0
    for path in phases(d):
        with open(path, encoding="utf-8") as f:
            for line in f:
                part, _, js = line.rstrip("\n").split("\t", 2)
                at = (int(part), offsets.get(part, 0))
                offsets[part] = at[1] + 1
                r = json.loads(js)
                if r["country"] != "France":
                    continue
                region = next((n for n, la0, la1, lo0, lo1 in regs
                               if la0 <= r["lat"] <= la1 and lo0 <= r["lon"] <= lo1), None)
                if region is None:
                    dlq[at] = "box"
                    continue
                t = calendar.timegm(time.strptime(r["timestamp"], "%Y-%m-%d %H:%M:%S")) * 1000
                start = t - t % HOUR
                st = stream.get(part, -1 << 62)
                if r["id"] in took:
                    if st >= start + HOUR + GRACE + RETENTION:
                        dlq[at] = "late"
                    else:
                        acc[took[r["id"]]][r["id"]] = r["temperature"]
                    continue
                if start + HOUR + GRACE <= st:
                    dlq[at] = "late"
                    continue
                if start + HOUR <= st:
                    within_grace += 1
                stream[part] = max(st, t)
                took[r["id"]] = (region, start)
                acc.setdefault((region, start), {})[r["id"]] = r["temperature"]
                last = max(last, start)
    means = {k: (math.fsum(v.values()) / len(v), len(v)) for k, v in acc.items() if k[1] < last}
    rows = {k: (m, n, means.get((k[0], k[1] - 3 * HOUR), (None,))[0]) for k, (m, n) in means.items()}
    return rows, dlq, within_grace


def table(db):
    """The rows of a SQLite file, or of a .tsv dump (psql -At: empty is null) of the same columns."""
    if db.endswith(".tsv"):
        with open(db, encoding="utf-8") as f:
            rows = [[c if c != "" else None for c in line.rstrip("\n").split("\t")] for line in f if line.strip()]
        rows = [(r[0], r[1], float(r[2]), int(r[3]), None if r[4] is None else float(r[4])) for r in rows]
    else:
        rows = sqlite_rows(db)
    out = {}
    for region, hour, temp, n, before in rows:
        ms = calendar.timegm(time.strptime(hour[:19].replace(" ", "T"), "%Y-%m-%dT%H:%M:%S")) * 1000
        out[(region, ms)] = (temp, n, before)
    return out


def sqlite_rows(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        rows = con.execute('SELECT region, hour, temperature, "numberOfPoints", "temperature3HoursBefore" '
                           'FROM region_hourly_temps').fetchall()
    finally:
        con.close()
    return rows


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def close(a, b):
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def compare_dlq(path, want):
    """want: {(partition, offset): 'box' | 'late'}; each dead letter names its reading (the origin
    headers; the window's dead letters hold where the reading is, not the reading) and must give
    that reason."""
    got = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            h = json.loads(line)["headers"]
            got[(int(h.get("spate.partition", -1)), int(h.get("spate.offset", -1)))] = h.get("spate.error") or ""
    bad = sorted(set(got) ^ set(want))
    marks = {"box": "regions: no region contains", "late": "hourly: late"}
    wrong = sorted(i for i in set(got) & set(want) if not got[i].startswith(marks[want[i]]))
    print("%s - the dead letters are exactly the %d readings in no region's box (%d) or too late (%d), "
          "each with its reason (%d missing or unexpected, %d with another reason)" %
          ("not ok" if bad or wrong else "ok", len(want), sum(1 for v in want.values() if v == "box"),
           sum(1 for v in want.values() if v == "late"), len(bad), len(wrong)))
    for i in bad[:5]:
        print("# %s: %s" % (i, "unexpected, " + got[i] if i in got else "missing"))
    for i in wrong[:5]:
        print("# %s: expected %s, got %s" % (i, want[i], got[i]))
    return 1 if bad or wrong else 0


def compare(d, db, quiet, dlq_path=None):
    exp, dlq, within_grace = expected(d)
    try:
        got = table(db)
    except (sqlite3.Error, OSError) as e:
        if not quiet:
            print("not ok - read %s: %s" % (db, e))
        return 1
    bad = []
    for k in sorted(set(exp) | set(got)):
        e, g = exp.get(k), got.get(k)
        if e is None or g is None:
            bad.append("%s %s: expected %s, table has %s" % (k[0], iso(k[1]), e, g))
        elif not (close(g[0], e[0]) and g[1] == e[1] and close(g[2], e[2])):
            bad.append("%s %s: expected %s, table has %s" % (k[0], iso(k[1]), e, g))
    if quiet:
        return 1 if bad else 0
    nulls = sum(1 for v in exp.values() if v[2] is None)
    hours = len({k[1] for k in exp})
    print("%s - %d rows (%d regions x %d hours; %d readings) equal the reference: mean, count, "
          "temperature3HoursBefore (%d of them null); %d readings late within the grace counted" %
          ("not ok" if bad else "ok", len(exp), len({k[0] for k in exp}), hours,
           sum(v[1] for v in exp.values()), nulls, within_grace))
    for b in bad[:10]:
        print("# " + b)
    rc = 1 if bad else 0
    if dlq_path:
        rc |= compare_dlq(dlq_path, dlq)
    return rc


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "expected":
        rows, dlq, _ = expected(d)
        for k in sorted(rows):
            print(json.dumps({"region": k[0], "hour": iso(k[1]), "temperature": rows[k][0],
                              "numberOfPoints": rows[k][1], "temperature3HoursBefore": rows[k][2]},
                             ensure_ascii=False))
        print(json.dumps({"dead_letters": len(dlq)}))
        return 0
    if cmd == "ready":
        exp, _, _ = expected(d)
        upto = min(k[1] for k in exp) + int(sys.argv[4]) * HOUR
        want = {k for k in exp if k[1] <= upto}
        try:
            return 0 if want <= set(table(sys.argv[3])) else 1
        except (sqlite3.Error, OSError):
            return 1
    if cmd == "compare":
        rest = [a for a in sys.argv[4:] if a != "-q"]
        return compare(d, sys.argv[3], "-q" in sys.argv[4:], rest[0] if rest else None)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
