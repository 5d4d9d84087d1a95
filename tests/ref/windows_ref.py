#!/usr/bin/python3
"""windows_ref.py - independent reference for spate's window semantics.

Written from the semantics in operators/window/window.h and operators/window/agg.h (not from the C
code): it keeps every record of every window in plain lists and computes the
aggregates only at the end, with math.fsum for sums.

Input (stdin): JSON lines {"key": str, "t": ms, "v": number|null, "p": partition,
"o": offset} in arrival order. Stream time is per partition: the largest t seen
on it so far (records of one key always come from one partition).

Output (stdout): one JSON line per window, sorted by key then window_start:
  {"key", "window_start", "window_end", <aggregate name>: value, ...}
then one line per late (dropped) record, in arrival order:
  {"late": {"key", "t", "p", "o"}}

usage: windows_ref.py --type tumbling|hopping|sliding|session [--size MS]
                      [--advance MS] [--gap MS] [--grace MS]
                      [--aggs count,sum,mean,min,max,first,last,count_distinct]
"""
import argparse
import json
import math
import sys

ALL_AGGS = ["count", "sum", "mean", "min", "max", "first", "last", "count_distinct"]


class Record:
    __slots__ = ("key", "t", "v", "p", "o")

    def __init__(self, obj):
        self.key = obj["key"]
        self.t = int(obj["t"])
        self.v = obj.get("v")
        self.p = int(obj["p"])
        self.o = int(obj["o"])


def aggregate(name, records):
    """The value of one aggregate over a window's records."""
    if name == "count":
        return len(records)
    usable = [r for r in records if r.v is not None]
    values = [r.v for r in usable]
    if name == "count_distinct":
        return len(set(values))
    if not values:
        return None
    if name == "sum":
        return math.fsum(values)
    if name == "mean":
        return math.fsum(values) / len(values)
    if name == "min":
        return min(values)
    if name == "max":
        return max(values)
    by_origin = sorted(usable, key=lambda r: (r.t, r.p, r.o))
    if name == "first":
        return by_origin[0].v
    if name == "last":
        return by_origin[-1].v
    raise ValueError("unknown aggregate " + name)


class FixedWindows:
    """Tumbling and hopping: every [k*A, k*A+S) holding t; open while
    stream_time < end + grace."""

    def __init__(self, size, advance, grace):
        self.size, self.advance, self.grace = size, advance, grace
        self.windows = {}   # (key, start) -> [records]

    def starts_of(self, t):
        k = (t - self.size) // self.advance + 1      # floor division: negative t too
        while k * self.advance <= t:
            yield k * self.advance
            k += 1

    def add(self, rec, stream_time):
        accepted = False
        for start in self.starts_of(rec.t):
            if stream_time < start + self.size + self.grace:
                self.windows.setdefault((rec.key, start), []).append(rec)
                accepted = True
        return accepted

    def results(self):
        for (key, start), recs in self.windows.items():
            yield key, start, start + self.size, recs


class SlidingWindows:
    """A window [e-S, e] for each distinct record time e of a key."""

    def __init__(self, size, grace):
        self.size, self.grace = size, grace
        self.seen = {}      # key -> accepted records
        self.windows = {}   # key -> {e: [records]}

    def add(self, rec, stream_time):
        if stream_time > rec.t + self.size + self.grace:
            return False
        wins = self.windows.setdefault(rec.key, {})
        for e, recs in wins.items():
            if rec.t <= e <= rec.t + self.size and stream_time <= e + self.grace:
                recs.append(rec)
        seen = self.seen.setdefault(rec.key, [])
        seen.append(rec)
        if rec.t not in wins and stream_time <= rec.t + self.grace:
            wins[rec.t] = [r for r in seen if rec.t - self.size <= r.t <= rec.t]
        return True

    def results(self):
        for key, wins in self.windows.items():
            for e, recs in wins.items():
                yield key, e - self.size, e, recs


class SessionWindows:
    """Sessions [first, last]; a record joins (and merges) every open session
    within gap of it."""

    def __init__(self, gap, grace):
        self.gap, self.grace = gap, grace
        self.sessions = {}  # key -> list of [first, last, records]

    def is_open(self, sess, stream_time):
        return stream_time <= sess[1] + self.gap + self.grace

    def add(self, rec, stream_time):
        if stream_time > rec.t + self.gap + self.grace:
            return False
        sessions = self.sessions.setdefault(rec.key, [])
        joined = [s for s in sessions
                  if self.is_open(s, stream_time) and s[0] - self.gap <= rec.t <= s[1] + self.gap]
        merged = [rec.t, rec.t, [rec]]
        for s in joined:
            merged[0] = min(merged[0], s[0])
            merged[1] = max(merged[1], s[1])
            merged[2].extend(s[2])
            sessions.remove(s)
        sessions.append(merged)
        return True

    def results(self):
        for key, sessions in self.sessions.items():
            for first, last, recs in sessions:
                yield key, first, last, recs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--type", required=True,
                    choices=["tumbling", "hopping", "sliding", "session"])
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--advance", type=int, default=0)
    ap.add_argument("--gap", type=int, default=0)
    ap.add_argument("--grace", type=int, default=0)
    ap.add_argument("--aggs", default=",".join(ALL_AGGS))
    args = ap.parse_args()
    aggs = args.aggs.split(",")
    for a in aggs:
        if a not in ALL_AGGS:
            ap.error("unknown aggregate " + a)

    if args.type == "tumbling":
        windows = FixedWindows(args.size, args.size, args.grace)
    elif args.type == "hopping":
        windows = FixedWindows(args.size, args.advance, args.grace)
    elif args.type == "sliding":
        windows = SlidingWindows(args.size, args.grace)
    else:
        windows = SessionWindows(args.gap, args.grace)

    stream_time = {}
    late = []
    for line in sys.stdin:
        if not line.strip():
            continue
        rec = Record(json.loads(line))
        stream_time[rec.p] = max(stream_time.get(rec.p, rec.t), rec.t)
        if not windows.add(rec, stream_time[rec.p]):
            late.append({"key": rec.key, "t": rec.t, "p": rec.p, "o": rec.o})

    rows = []
    for key, start, end, recs in windows.results():
        row = {"key": key, "window_start": start, "window_end": end}
        for a in aggs:
            row[a] = aggregate(a, recs)
        rows.append(row)
    rows.sort(key=lambda r: (r["key"], r["window_start"]))
    out = sys.stdout
    for row in rows:
        out.write(json.dumps(row) + "\n")
    for rec in late:
        out.write(json.dumps({"late": rec}) + "\n")


if __name__ == "__main__":
    main()
