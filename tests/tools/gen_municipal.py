#!/usr/bin/python3
"""gen_municipal.py - input for topology/municipal.yaml, deterministic by seed.

  gen_municipal.py forecasts SEED OUTDIR [HOURS]   OUTDIR/phase-K.tsv, K = 0..HOURS+1
  gen_municipal.py side SIDEDIR OUTDIR             newer versions of the side data, unmarked

forecasts: lines "partition<TAB>municipality<TAB>JSON" (kafka_tool.py produce --partitioned),
each forecast {municipality, hour "YYYY-MM-DD HH:00:00" (UTC), issued, temperature,
precipitation}, keyed by municipality: the 20 of topology/municipalities plus Brest (29019, in
no version until the test adds it) and Ajaccio (2A004, never in the side data); municipality i
is always in partition i % 4. Phase K brings hour K, the way forecasts arrive live:
  1. corrections first: a few municipalities get a newer forecast of an hour 2 to 7 hours back
     (windows still open, closed within the retention: revised, or past it: dead-lettered);
  2. hour K's forecasts (about 8 % missing, about 8 % held back to the next phase; the first
     municipality of each partition is always on time, so every partition reaches hour K);
     then a few newer forecasts of hour K or K-1 (windows open: replaced);
  3. the forecasts of hour K-1 held back: late, within the grace;
  4. a few forecasts of hour K-3 that were missing: too late, dead-lettered.
Phase HOURS holds hour HOURS for every municipality only: it closes the windows up to
[HOURS-3h, HOURS-1h). Phase HOURS+1 only corrects hour HOURS-4 of a few municipalities: closed
windows revised after a newer one was written (the current table must keep the newer one).

side: SIDEDIR/2026-12-01/municipalities.csv (the shipped version) gives OUTDIR/2026-12-02 (every
population +1 %, Brest added), OUTDIR/2026-12-03 (a malformed line: to be refused) and
OUTDIR/2026-12-04 (half written: its first rows only), each a municipalities.csv without _SUCCESS: the test adds the
marker where the folder is meant complete.
"""
import csv
import json
import os
import random
import sys
import time

T0 = 1796169600  # 2026-12-02 00:00:00 UTC, in seconds
PARTITIONS = 4
BREST = ("29019", "Brest", "29", 139000)
AJACCIO = "2A004"
SIDE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../topology/municipalities")


def side_rows(sidedir):
    with open(os.path.join(sidedir, "2026-12-01", "municipalities.csv"), encoding="utf-8") as f:
        return [(r["code"], r["name"], r["department"], int(r["population"])) for r in csv.DictReader(f)]


def municipalities():
    return [r[0] for r in side_rows(SIDE)] + [BREST[0], AJACCIO]


def hour_text(h, minute=0):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(T0 + h * 3600 + minute * 60))


def forecast(r, code, h, issued_before, correction=False):
    """A forecast of hour h issued issued_before hours earlier (a correction: later, closer)."""
    return {"municipality": code, "hour": hour_text(h), "issued": hour_text(h - issued_before, r.randrange(60)),
            "temperature": round(r.uniform(-6.0, 16.0), 1),
            "precipitation": round(max(0.0, r.gauss(0.4, 1.0)), 1) if not correction or r.random() < 0.8 else 0.0}


class Gen:
    def __init__(self, seed, hours):
        self.r = random.Random(seed)
        self.hours = hours
        self.codes = municipalities()
        self.sent = set()        # (code, hour) delivered on time or within the grace
        self.missing = set()     # (code, hour) never sent so far
        self.held = []           # forecasts of the previous hour, late within the grace

    def part(self, code):
        return self.codes.index(code) % PARTITIONS

    def corrections_back(self, k):
        """Step 1: newer forecasts of hours 2-7 back, one municipality at most once."""
        out = []
        for code in self.r.sample(self.codes, 4):
            back = self.r.choice([2, 3, 4, 5, 6, 7])
            if (code, k - back) in self.sent:
                out.append(forecast(self.r, code, k - back, 1, True))
        return out

    def phase(self, k):
        r = self.r
        if k == self.hours:
            return [forecast(r, c, k, 6) for c in self.codes]
        if k == self.hours + 1:
            # hour HOURS-4: its windows [-5h, -3h) and [-4h, -2h) are older than the newest written
            return [forecast(r, c, k - 5, 1, True) for c in self.codes if (c, k - 5) in self.sent][:8]
        rows = self.corrections_back(k) if k >= 2 else []
        firsts = set(self.codes[:PARTITIONS])
        on_time, held = [], []
        for code in self.codes:
            x = r.random()
            if code not in firsts and x < 0.08:
                self.missing.add((code, k))
            elif code not in firsts and x < 0.16:
                held.append(forecast(r, code, k, 6))
            else:
                on_time.append(forecast(r, code, k, 6))
                self.sent.add((code, k))
        r.shuffle(on_time)
        # the first municipality of each partition leads its partition to hour k
        rows += sorted(on_time, key=lambda f: f["municipality"] not in firsts)
        done = set()
        for f in r.sample(on_time, 3):
            back = r.choice([0, 1])
            if f["municipality"] not in done and (f["municipality"], k - back) in self.sent:
                rows.append(forecast(r, f["municipality"], k - back, 2, True))
                done.add(f["municipality"])
        rows += self.held
        self.sent |= {(f["municipality"], k - 1) for f in self.held}
        self.held = held
        for code, h in sorted(self.missing):
            if h == k - 3 and r.random() < 0.5:
                rows.append(forecast(r, code, h, 6))
                self.missing.discard((code, h))
        return rows


def forecasts(seed, outdir, hours):
    g = Gen(seed, hours)
    os.makedirs(outdir, exist_ok=True)
    for k in range(hours + 2):
        with open(os.path.join(outdir, "phase-%d.tsv" % k), "w", encoding="utf-8") as f:
            for row in g.phase(k):
                code = row["municipality"]
                f.write("%d\t%s\t%s\n" % (g.part(code), code, json.dumps(row, ensure_ascii=False)))


def write_csv(path, rows, tail=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("code,name,department,population\n")
        for code, name, dep, pop in rows:
            f.write('"%s",%s,"%s",%d\n' % (code, name, dep, pop))
        f.write(tail)


def side(sidedir, outdir):
    rows = side_rows(sidedir)
    newer = [(c, n, d, round(p * 1.01)) for c, n, d, p in rows] + [BREST]
    write_csv(os.path.join(outdir, "2026-12-02", "municipalities.csv"), newer)
    write_csv(os.path.join(outdir, "2026-12-03", "municipalities.csv"), rows,
              '"75056",Paris,"75",2100000,extra\n')  # five cells: the version is refused
    # valid as far as it goes: only the missing _SUCCESS keeps it out
    write_csv(os.path.join(outdir, "2026-12-04", "municipalities.csv"), rows[:5])


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "forecasts":
        forecasts(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 10)
    elif len(sys.argv) == 4 and sys.argv[1] == "side":
        side(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
