#!/usr/bin/python3
"""municipal_ref.py - independent reference for 0770 (topology/municipal.yaml).

  expected DIR SIDE V2PHASE                 the rows of both tables, as JSON lines (for a look)
  ready DIR SIDE V2PHASE DB K               exit 0 once DB's versions table holds every row
                                            emitted up to phase K
  compare DIR SIDE V2PHASE DB [DLQ] [-q]    ok / not ok lines: every row of both tables, and
                                            the forecasts in DLQ (kafka_tool.py consume lines)

DIR holds the generator's phase-K.tsv files, produced in order, phase K once every row of phase
K-1 is in the table. SIDE holds the side data's dated folders as the test used them; before
phase V2PHASE the first version (2026-12-01) is in force, from it on the second (2026-12-02): the
test produces phase V2PHASE once both instances loaded it. DB: the SQLite file, or a .tsv dump of
the versions table by psql (columns in COLS order; the current table's in current.tsv beside it).

The rules, from the topology and the README (not from the engine's code): per partition, the
stream time is the largest forecast hour seen (the record itself included). A forecast of hour h
belongs to the windows [h-1h, h+1h) and [h, h+2h); a window [s, s+2h) closes when the stream
time reaches s+3h (grace 1h) and is kept 3h more (retention). A forecast whose (municipality,
hour) a window holds replaces that one's values there, whether the window is open or closed and
kept (then it is revised: emitted again); otherwise, in an open window it is added, and a
forecast whose both windows are closed is dead-lettered unless it revised one. Each window is
written when it closes, with its values then, and once more for each phase that revised it unless
the row is the same as the last one written for that window (history_key); the side fields are
those of the version in force in that phase (null without a row). Every row is in the versions
table exactly once. The current
table holds, per municipality, the latest revision of its latest window.
"""
import calendar
import csv
import glob
import json
import math
import os
import sqlite3
import sys
import time

HOUR = 3600 * 1000
SIZE, GRACE, RETENTION = 2 * HOUR, HOUR, 3 * HOUR
COLS = ("municipality", "window_start", "window_end", "temperature", "precipitation", "forecasts", "name",
        "department", "population", "side_version")


def ms(text):
    return calendar.timegm(time.strptime(text[:19].replace("T", " "), "%Y-%m-%d %H:%M:%S")) * 1000


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t // 1000))


def phases(d):
    n = len(glob.glob(os.path.join(d, "phase-*.tsv")))
    for k in range(n):
        with open(os.path.join(d, "phase-%d.tsv" % k), encoding="utf-8") as f:
            yield k, [(int(p), json.loads(js), js) for p, _, js in (l.rstrip("\n").split("\t", 2) for l in f)]


def side_version(side, name):
    rows = {}
    with open(os.path.join(side, name, "municipalities.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows[r["code"]] = (r["name"], r["department"], int(r["population"]), name)
    return rows


def closes(s):
    return s + SIZE + GRACE


def expected(d, side, v2phase):
    """[(phase, row)] of every write in order, and the dead-lettered forecasts' JSON texts."""
    v1, v2 = side_version(side, "2026-12-01"), side_version(side, "2026-12-02")
    stream = {}
    wins = {}          # (municipality, start) -> {hour: (temperature, precipitation)}
    part_of = {}
    emitted = set()    # windows written once (closed)
    last = {}          # (municipality, start) -> the row last written (history_key: an equal one is not)
    writes, dlq = [], []
    for k, rows in phases(d):
        revised = set()
        for p, f, js in rows:
            code, t = f["municipality"], ms(f["hour"])
            part_of[code] = p
            st = stream[p] = max(stream.get(p, t), t)
            starts = [t - t % HOUR - HOUR, t - t % HOUR]
            taken = 0
            for s in starts:
                w = wins.get((code, s))
                if st >= closes(s) and st < closes(s) + RETENTION and w is not None and t in w:
                    w[t] = (f["temperature"], f["precipitation"])
                    revised.add((code, s))
                    taken += 1
            if st >= closes(starts[-1]):
                if not taken:
                    dlq.append(js)
                continue
            for s in starts:
                if st < closes(s):
                    wins.setdefault((code, s), {})[t] = (f["temperature"], f["precipitation"])
        side_rows = v2 if k >= v2phase else v1
        for (code, s), w in sorted(wins.items()):
            closed = stream[part_of[code]] >= closes(s)
            if closed and ((code, s) not in emitted or (code, s) in revised):
                emitted.add((code, s))
                temps, rains = [v[0] for v in w.values()], [v[1] for v in w.values()]
                row = (code, s, s + SIZE, math.fsum(temps) / len(temps), math.fsum(rains) / len(rains),
                       len(w)) + side_rows.get(code, (None, None, None, None))
                if row != last.get((code, s)):
                    writes.append((k, row))
                    last[(code, s)] = row
    return writes, dlq


def current(writes):
    cur = {}
    for _, row in writes:
        if row[0] not in cur or row[1] >= cur[row[0]][1]:
            cur[row[0]] = row
    return cur


def db_rows(db, table):
    """(municipality, start ms, end ms, ...) of a table: from the SQLite file, or from psql -At dumps
    of its columns in COLS order, DB naming the versions table's (the current one beside it)."""
    if db.endswith(".tsv"):
        path = db.replace("versions.tsv", "current.tsv") if table.endswith("current") else db
        with open(path, encoding="utf-8") as f:
            rows = [[c if c != "" else None for c in line.rstrip("\n").split("\t")] for line in f if line.strip()]
        num = lambda c, f: None if c is None else f(c)
        return [(r[0], ms(r[1]), ms(r[2]), num(r[3], float), num(r[4], float), int(r[5]), r[6], r[7],
                 num(r[8], int), r[9]) for r in rows]
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        rows = con.execute("SELECT %s FROM %s" % (", ".join('"%s"' % c for c in COLS), table)).fetchall()
    finally:
        con.close()
    return [(r[0], ms(r[1]), ms(r[2])) + tuple(r[3:]) for r in rows]


def close(a, b):
    if a is None or b is None:
        return a is b
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def same(a, b):
    return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))


def show(row):
    return "%s [%s, %s) %s" % (row[0], iso(row[1]), iso(row[2]), row[3:])


def match(want, got):
    """Rows of want without an equal row in got, and rows of got without one in want: a row of got
    equal to one already matched (a window written again after a kill -9) is one of these."""
    left = list(got)
    missing = []
    for w in want:
        i = next((i for i, g in enumerate(left) if same(w, g)), None)
        if i is None:
            missing.append(w)
        else:
            left.pop(i)
    return missing, left


def compare_dlq(path, want):
    got = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)
            err = m["headers"].get("spate.error") or ""
            if err.startswith("rolling_2h: late"):
                got.append(json.dumps(json.loads(m["value"]), sort_keys=True))
            elif "municipalities: table municipalities:" not in err:
                got.append("unexpected: " + err)
    want = sorted(json.dumps(json.loads(js), sort_keys=True) for js in want)
    bad = sorted(set(want) ^ set(got))
    print("%s - the forecasts dead-lettered as late are exactly the %d too late for both their windows "
          "(new ones, or corrections past the retention)" % ("not ok" if bad else "ok", len(want)))
    for b in bad[:5]:
        print("# %s: %s" % ("missing" if b in want else "unexpected", b))
    return 1 if bad else 0


def compare(d, side, v2phase, db, quiet, dlq_path=None):
    writes, dlq = expected(d, side, v2phase)
    want_cur = sorted(current(writes).values())
    try:
        versions = db_rows(db, "municipal_rolling_versions")
        cur = db_rows(db, "municipal_rolling_current")
    except (sqlite3.Error, OSError) as e:
        if not quiet:
            print("not ok - read %s: %s" % (db, e))
        return 1
    vm, ve = match([w for _, w in writes], versions)
    cm, ce = match(want_cur, cur)
    bad = vm or ve or cm or ce or len(cur) != len(want_cur)
    if quiet:
        return 1 if bad else 0
    revisions = len(writes) - len({(w[0], w[1]) for _, w in writes})
    replayed = [g for g in ve if any(same(g, w) for _, w in writes)]
    print("%s - municipal_rolling_versions: the %d rows written (%d windows closed, %d revisions) equal the "
          "reference, side data included (%d rows with null side fields, %d of version 2026-12-02), each "
          "exactly once (%d written twice)" %
          ("not ok" if vm or ve else "ok", len(writes), len(writes) - revisions, revisions,
           sum(1 for _, w in writes if w[6] is None), sum(1 for _, w in writes if w[9] == "2026-12-02"),
           len(replayed)))
    for w in vm[:5]:
        print("# missing: " + show(w))
    for g in ve[:5]:
        print("# %s: %s" % ("twice" if g in replayed else "unexpected", show(g)))
    print("%s - municipal_rolling_current: %d rows, each municipality's latest window in its latest revision" %
          ("not ok" if cm or ce or len(cur) != len(want_cur) else "ok", len(want_cur)))
    for w in cm[:5]:
        print("# missing: " + show(w))
    for g in ce[:5]:
        print("# unexpected: " + show(g))
    rc = 1 if bad else 0
    if dlq_path:
        rc |= compare_dlq(dlq_path, dlq)
    return rc


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, d, side, v2phase = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if cmd == "expected":
        writes, dlq = expected(d, side, v2phase)
        for k, w in writes:
            print(json.dumps(dict(zip(("phase",) + COLS, (k, w[0], iso(w[1]), iso(w[2])) + w[3:])),
                             ensure_ascii=False))
        print(json.dumps({"dead_letters": len(dlq)}))
        return 0
    if cmd == "ready":
        writes, _ = expected(d, side, v2phase)
        try:
            missing, _ = match([w for k, w in writes if k <= int(sys.argv[6])], db_rows(sys.argv[5],
                                  "municipal_rolling_versions"))
        except (sqlite3.Error, OSError):
            return 1
        return 1 if missing else 0
    if cmd == "compare":
        rest = [a for a in sys.argv[6:] if a != "-q"]
        return compare(d, side, v2phase, sys.argv[5], "-q" in sys.argv[6:], rest[0] if rest else None)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
