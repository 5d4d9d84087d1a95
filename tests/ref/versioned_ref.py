#!/usr/bin/python3
"""versioned_ref.py - independent reference for 0782 (a join with as_of on a versioned table).

  gen SEED DIR        DIR/cal.tsv: station calibrations "key<TAB>JSON" {valid_from, offset}, several
                      per station, in random order; DIR/in.tsv: readings "partition<TAB>id<TAB>JSON"
                      {id, st, t, temp}
  compare DIR OUT     OUT: kafka_tool.py consume lines of the join's output. ok / not ok: every
                      reading has output, and every message of it carries the offset of the
                      calibration valid at its time t (the latest valid_from <= t; null before
                      the first; replays may repeat a message)
"""
import json
import random
import sys

from refcli import main, report

STATIONS, READINGS, T0, SPAN = 30, 2000, 1796108400000, 10 * 86400 * 1000


def gen(seed, d):
    rnd = random.Random(seed)
    cals = []
    for s in range(STATIONS):
        for _ in range(rnd.randint(1, 6)):
            cals.append(("S%d" % s, {"valid_from": T0 + rnd.randrange(0, SPAN), "offset": round(rnd.uniform(-2, 2), 3)}))
    rnd.shuffle(cals)
    with open("%s/cal.tsv" % d, "w") as f:
        for k, v in cals:
            f.write("%s\t%s\n" % (k, json.dumps(v)))
    with open("%s/in.tsv" % d, "w") as f:
        for i in range(READINGS):
            r = {"id": "r%d" % i, "st": "S%d" % rnd.randrange(STATIONS + 2), "t": T0 + rnd.randrange(-86400000, SPAN),
                 "temp": round(rnd.uniform(-5, 30), 2)}
            f.write("%d\tr%d\t%s\n" % (i % 4, i, json.dumps(r)))


def compare(d, out, quiet=False):
    versions = {}
    for line in open("%s/cal.tsv" % d):
        k, v = line.rstrip("\n").split("\t", 1)
        v = json.loads(v)
        versions.setdefault(k, {})[v["valid_from"]] = v["offset"]  # the same time again: the later wins
    want = {}
    for line in open("%s/in.tsv" % d):
        r = json.loads(line.rstrip("\n").split("\t", 2)[2])
        froms = [t for t in versions.get(r["st"], {}) if t <= r["t"]]
        want[r["id"]] = dict(r, offset=versions[r["st"]][max(froms)] if froms else None)
    got, bad = {}, []
    for line in open(out):
        v = json.loads(json.loads(line)["value"])
        got[v["id"]] = v
        if v != want.get(v["id"]):
            bad.append((v, want.get(v["id"])))
    missing = [k for k in want if k not in got]
    nulls = sum(1 for v in want.values() if v["offset"] is None)
    ok = not bad and not missing
    return report([(ok, "each of the %d readings carries the calibration valid at its time (%d null: before "
                    "the first or no station; %d missing, %d wrong%s)"
                    % (len(want), nulls, len(missing), len(bad), ": e.g. %s" % (bad[0],) if bad else ""))], quiet)


if __name__ == "__main__":
    main(__doc__, gen, compare, 2)
