#!/usr/bin/python3
"""sql_ref.py - independent reference for the sql_sink exactness tests (0700 SQLite, 0701 PostgreSQL).

  gen N SEED OUT                  sensor readings as key<TAB>JSON lines: 200 sensors (the key), a
                                  few with temp -999 (violates CHECK (temp > -100): to the DLQ) and a
                                  few with a non-integral seq (not a bigint: to the DLQ at the first sink)
  compare IN sqlite FILE DLQ      the tables in the SQLite file,
  compare IN pg DIR DLQ           or dumped by psql as DIR/<table>.tsv, against the input, and the
                                  dead-letter topic (kafka_tool consume output) against the bad records.
                                  Prints TAP-like "ok - ..." / "not ok - ..." lines; -q: exit status only.

Expected: `latest` (upsert by sensor) and `versions_current` hold the last valid reading per sensor
(records of one sensor share a partition, so input order is their order); `history` (append) and
`versions` (versioned) hold every valid reading exactly once; versions never go down along a sensor.
"""
import collections
import json
import random
import sqlite3
import sys
import time
import calendar


def gen(n, seed, out):
    r = random.Random(seed)
    with open(out, "w") as f:
        for i in range(n):
            s = "s%03d" % r.randrange(200)
            rec = {"id": i, "sensor": s, "seq": i, "temp": round(r.uniform(-5, 35), 2),
                   "ok": r.random() < 0.5, "ts": 1700000000000 + i * 1000 + r.randrange(1000)}
            if i % 997 == 5:
                rec["temp"] = -999.0
            if i % 1499 == 7:
                rec["seq"] = i + 0.5
            f.write("%s\t%s\n" % (s, json.dumps(rec)))


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def expected(path):
    valid, bad = [], set()
    for line in open(path):
        rec = json.loads(line.split("\t", 1)[1])
        if rec["seq"] != int(rec["seq"]):
            bad.add(("latest", rec["id"]))
        elif rec["temp"] <= -100:
            bad.update((node, rec["id"]) for node in ("latest", "history", "versions"))
        else:
            valid.append((rec["id"], rec["sensor"], int(rec["seq"]), rec["temp"], rec["ok"], iso(rec["ts"])))
    return valid, bad


def norm(row, cols):
    """Database values as Python ones: booleans come as 0/1 (SQLite) or t/f (psql), numbers as text from psql."""
    out = []
    for v, c in zip(row, cols):
        if c in ("id", "seq", "version"):
            v = int(v)
        elif c == "temp":
            v = float(v)
        elif c == "ok":
            v = v in (1, "t", "1", True)
        out.append(v)
    return tuple(out)


COLS = {"latest": ["sensor", "seq", "temp", "ok", "ts"],
        "history": ["id", "sensor", "seq", "temp", "ok", "ts"],
        "versions": ["sensor", "seq", "temp", "ok", "ts", "version"],
        "versions_current": ["sensor", "seq", "temp", "ok", "ts"]}


def read_tables(kind, where):
    tables = {}
    if kind == "sqlite":
        c = sqlite3.connect(where)
        for t, cols in COLS.items():
            tables[t] = [norm(r, cols) for r in c.execute("SELECT %s FROM %s" % (", ".join(cols), t))]
    else:
        for t, cols in COLS.items():
            with open("%s/%s.tsv" % (where, t)) as f:
                tables[t] = [norm(l.rstrip("\n").split("\t"), cols) for l in f if l.strip()]
    return tables


def compare(inp, kind, where, dlq, quiet):
    valid, bad = expected(inp)
    try:
        got = read_tables(kind, where)
    except Exception as e:  # tables not there yet
        if not quiet:
            print("not ok - reading the tables: %s" % e)
        return False
    last = {}
    for v in valid:
        last[v[1]] = v[1:]
    rows = sorted(valid)
    results = []

    def check(cond, what):
        results.append((bool(cond), what))

    def diff(exp, act):
        e, a = collections.Counter(exp), collections.Counter(act)
        missing, extra = list((e - a).elements()), list((a - e).elements())
        return "%d missing (%s), %d extra (%s)" % (len(missing), missing[:2], len(extra), extra[:2])

    for t in ("latest", "versions_current"):
        exp = sorted(last.values())
        act = sorted(got[t])
        check(exp == act, "%s: %d rows, the last valid reading of each sensor%s"
              % (t, len(exp), "" if exp == act else ": " + diff(exp, act)))
    act = sorted(got["history"])
    check(rows == act, "history (append): %d rows, every valid reading once%s"
          % (len(rows), "" if rows == act else ": " + diff(rows, act)))
    exp = sorted(r[1:] for r in valid)
    act = sorted(r[:5] for r in got["versions"])
    check(exp == act, "versions (versioned): %d rows, every valid reading once%s"
          % (len(exp), "" if exp == act else ": " + diff(exp, act)))
    down = 0
    prev = {}
    for r in sorted(got["versions"], key=lambda r: r[1]):
        if r[0] in prev and r[5] < prev[r[0]]:
            down += 1
        prev[r[0]] = r[5]
    check(down == 0, "versions: the version never goes down along a sensor's readings (%d commits seen, %d down)"
          % (len(set(r[5] for r in got["versions"])), down))
    if dlq:
        seen = collections.Counter()
        for line in open(dlq):
            m = json.loads(line)
            seen[(m["headers"]["spate.node"], json.loads(m["value"])["id"])] += 1
        check(set(seen) == bad, "DLQ: the %d rejected rows (CHECK constraint, not a bigint) with their sink, "
              "%d duplicates from replays%s" % (len(bad), sum(seen.values()) - len(seen),
                                               "" if set(seen) == bad else ": " + diff(sorted(bad), sorted(seen))))
    for ok, what in results:
        if not quiet:
            print("%s - %s" % ("ok" if ok else "not ok", what))
    return all(ok for ok, _ in results)


if __name__ == "__main__":
    a = [x for x in sys.argv[1:] if x != "-q"]
    if a[0] == "gen":
        gen(int(a[1]), int(a[2]), a[3])
    elif a[0] == "compare":
        sys.exit(0 if compare(a[1], a[2], a[3], a[4] if len(a) > 4 else None, "-q" in sys.argv) else 1)
    else:
        sys.exit(__doc__)
