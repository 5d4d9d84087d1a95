#!/usr/bin/python3
"""corrections_ref.py - station readings with corrections (new versions of a
reading: same id and time, another temperature) and the independent reference
of a window with dedupe_by: id, corrections: replace (test 0870).

  gen SEED OUT.tsv        readings as "partition<TAB>station<TAB>json" lines
                          ({"id", "t": ms, "temp": C}) in arrival order per
                          partition; also OUT.1 .. OUT.3, thirds of each partition
  compare IN.tsv OUT.jsonl DLQ.jsonl [-q]
                          TAP lines, exit 0 when exact
  history IN.tsv DB [-q]  the same windows written by a sql_sink (mode: versioned, history_key:
                          [station, window_start], key: [station], newer_by: window_start) into
                          the SQLite tables hist and cur: TAP lines, exit 0 when exact

Semantics checked (README "Corrections"): tumbling 30 s windows per station,
grace 0, retention 60 s, emit: final. Per partition, in arrival order, the
stream time is the largest t seen. A reading whose window is open goes in; a
later version of an id already in that window replaces it (the latest version
wins). A version of a closed window that holds its id revises it while the
stream time is below the window's end + retention; otherwise it is late and
dead-lettered, as is a new id for a closed window. Each message of the output
must be a value the window had once closed (at its close or after one of its
revisions; a replay may repeat one), the last one its final value; windows
the stream time has not closed are not emitted. The dead letters are exactly
the late readings (by partition and offset; a replay may repeat one).

The history (docs/exactness.md section 7) appends a row only when it differs from its window's
latest one: each window's rows, in version order, are values it had once closed, in the order it
had them, no two in a row equal (a replay appends nothing), the last one its final value. (A
replay may merge two revisions into one commit, so a history may skip a value, never repeat or
reorder one.) The current table holds per station the final value of its latest window.
"""
import json
import math
import random
import sqlite3
import sys
from collections import defaultdict

from refcli import main, report

SIZE = 30_000
RET = 60_000
BASE = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SPAN = 480_000            # 8 minutes of event time
PARTS = 3
STATIONS = 9


def gen(seed, out):
    rnd = random.Random(seed)
    rows = []   # (partition, arrival, station, json)
    for i in range(STATIONS):
        st, part, seq = "st%02d" % i, i % PARTS, 0
        t = BASE + rnd.randrange(0, 2_000)
        while t < BASE + SPAN:
            rid = "%s-%d" % (st, seq)
            seq += 1
            temp = round(18 + 6 * math.sin((t - BASE) / 90_000 + i) + rnd.uniform(-1, 1), 1)
            rows.append((part, t, st, {"id": rid, "t": t, "temp": temp}))
            at = t
            while rnd.random() < 0.2:      # versions: soon, after the close, past retention
                at += rnd.choice([rnd.randrange(200, 5_000), rnd.randrange(20_000, 70_000),
                                  rnd.randrange(95_000, 150_000)])
                temp = round(temp + rnd.uniform(-3, 3), 1)
                rows.append((part, at, st, {"id": rid, "t": t, "temp": temp}))
            t += 2_000 + rnd.choice([-400, 0, 400])
    rows.sort(key=lambda r: (r[0], r[1]))
    thirds = [open("%s.%d" % (out, k + 1), "w") for k in range(3)]
    with open(out, "w") as f:
        for part in range(PARTS):
            mine = [r for r in rows if r[0] == part]
            for k, (_, _, st, rec) in enumerate(mine):
                line = "%d\t%s\t%s\n" % (part, st, json.dumps(rec))
                f.write(line)
                thirds[k * 3 // len(mine)].write(line)
    for x in thirds:
        x.close()


def value(ids):
    xs = list(ids.values())
    n, s = len(xs), sum(xs)
    mean = s / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else None
    return {"n": n, "sum": s, "mean": mean, "sd": sd, "hot": sum(1 for x in xs if x > 20)}


def expect(src):
    """{key@start: [values it had once closed, in order]}, {(partition, offset)} late."""
    wins = defaultdict(dict)      # (station, start) -> {id: temp}
    closed, versions, late = set(), defaultdict(list), set()
    stream = defaultdict(lambda: -1 << 62)
    offset = defaultdict(int)
    for line in open(src):
        part, st, js = line.rstrip("\n").split("\t", 2)
        part, rec = int(part), json.loads(js)
        off = offset[part]
        offset[part] += 1
        t, rid = rec["t"], rec["id"]
        start = t - t % SIZE
        stream[part] = max(stream[part], t)
        now = stream[part]
        # windows of this partition that the stream time closed (before the record)
        for key in [k for k in wins if k not in closed and k[2] == part and k[1] + SIZE <= now]:
            closed.add(key)
            versions[key].append(value(wins[key]))
        key = (st, start, part)
        if start + SIZE <= now:
            if key in wins and now < start + SIZE + RET and rid in wins[key]:
                wins[key][rid] = rec["temp"]
                versions[key].append(value(wins[key]))
            else:
                late.add((part, off))
            continue
        wins[key][rid] = rec["temp"]
    exp = {}
    for (st, start, _), vs in versions.items():
        exp["%s@%d" % (st, start)] = vs
    return exp, late


VALUES = ("n", "sum", "mean", "sd", "hot")


def same(a, b):
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1)


def same_row(row, want):
    return all(same(row.get(c), want[c]) for c in want)


def compare(src, out_path, dlq_path, quiet):
    exp, late = expect(src)
    got = defaultdict(list)
    for line in open(out_path):
        m = json.loads(line)
        row = json.loads(m["value"])
        got["%s@%d" % (row["key"], row["window_start"])].append(row)
    missing = sorted(set(exp) - set(got))
    extra = sorted(set(got) - set(exp))
    wrong, last = [], []
    for key in sorted(set(exp) & set(got)):
        for row in got[key]:
            if not any(same_row(row, v) for v in exp[key]):
                wrong.append("%s: %s not among %s" % (key, row, exp[key]))
                break
        if not same_row(got[key][-1], exp[key][-1]):
            last.append("%s: last %s, want %s" % (key, got[key][-1], exp[key][-1]))
    dl = set()
    reasons = True
    for line in open(dlq_path):
        m = json.loads(line)
        h = m.get("headers") or {}
        dl.add((int(h.get("spate.partition", -1)), int(h.get("spate.offset", -1))))
        reasons &= "earlier version" in h.get("spate.error", "")
    revised = sum(1 for v in exp.values() if len(v) > 1)
    results = [
        (not missing and not extra, "the %d closed windows of the reference (%d revised), no other "
         "(missing %s, extra %s)" % (len(exp), revised, missing[:3], extra[:3])),
        (not wrong, "every message is a value its window had once closed%s" %
         ("; " + "; ".join(wrong[:2]) if wrong else "")),
        (not last, "each window's last message is its final value (latest versions)%s" %
         ("; " + "; ".join(last[:2]) if last else "")),
        (dl == late and reasons, "the dead letters are the %d late readings (got %d; missing %s, extra %s), "
         "with the reason" % (len(late), len(dl), sorted(late - dl)[:3], sorted(dl - late)[:3])),
    ]
    return report(results, quiet)


def subsequence(rows, want):
    """rows (in order) are values of want, in want's order."""
    k = 0
    for row in rows:
        while k < len(want) and not same_row(row, want[k]):
            k += 1
        if k == len(want):
            return False
        k += 1
    return True


def read_tables(db):
    """The history rows by window key (in the order appended) and the current rows by station."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    con.row_factory = sqlite3.Row
    got = defaultdict(list)
    for r in con.execute("SELECT * FROM hist ORDER BY emitted_ms, rowid"):
        got["%s@%d" % (r["station"], r["window_start"])].append(dict(r))
    return got, {r["station"]: dict(r) for r in con.execute("SELECT * FROM cur")}


def history(src, db, quiet):
    exp, _ = expect(src)
    try:
        got, cur = read_tables(db)
    except sqlite3.Error as e:
        return report([(False, "history: %s: %s" % (db, e))], quiet)
    missing = sorted(set(exp) - set(got))
    extra = sorted(set(got) - set(exp))
    order, repeat, last = [], [], []
    for key in sorted(set(exp) & set(got)):
        rows = got[key]
        if not subsequence(rows, exp[key]):
            order.append("%s: %s not in the order of %s" % (key, rows, exp[key]))
        if any(same_row(a, {c: b[c] for c in VALUES}) for a, b in zip(rows, rows[1:])):
            repeat.append("%s: %s" % (key, rows))
        if not same_row(rows[-1], exp[key][-1]):
            last.append("%s: last %s, want %s" % (key, rows[-1], exp[key][-1]))
    latest = {}
    for key in exp:
        st, start = key.split("@")
        if int(start) > latest.get(st, (-1, None))[0]:
            latest[st] = (int(start), exp[key][-1])
    wrong_cur = ["%s: %s, want %s@%d %s" % (st, cur.get(st), st, start, v) for st, (start, v) in sorted(latest.items())
                 if st not in cur or cur[st]["window_start"] != start or not same_row(cur[st], v)]
    nrows = sum(len(v) for v in got.values())
    results = [
        (not missing and not extra, "history: the %d closed windows of the reference, no other (%d rows; "
         "missing %s, extra %s)" % (len(exp), nrows, missing[:3], extra[:3])),
        (not order, "history: each window's rows are values it had once closed, in order%s" %
         ("; " + "; ".join(order[:2]) if order else "")),
        (not repeat, "history: no row equal to the one before it (a replay appends nothing)%s" %
         ("; " + "; ".join(repeat[:2]) if repeat else "")),
        (not last, "history: each window's last row is its final value%s" %
         ("; " + "; ".join(last[:2]) if last else "")),
        (not wrong_cur and len(cur) == len(latest), "current: the final value of each station's latest "
         "window (%d stations)%s" % (len(cur), "; " + "; ".join(wrong_cur[:2]) if wrong_cur else "")),
    ]
    return report(results, quiet)


if __name__ == "__main__":
    main(__doc__, gen, compare, 3, history=(history, 2))
