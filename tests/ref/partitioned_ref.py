#!/usr/bin/python3
"""partitioned_ref.py - independent reference for 0783 (a join on a table partitioned like the
stream, global: false).

  gen SEED DIR        DIR/st.tsv: station rows "key<TAB>JSON" {name, alt} (some stations written
                      twice: the later wins; some deleted: an empty value); DIR/in.tsv: readings
                      "key<TAB>JSON" {id, v} keyed by their station (both topics are produced by
                      key, so a station's row and its readings share a partition)
  compare DIR OUT     OUT: kafka_tool.py consume lines of the join's output. ok / not ok: every
                      reading has output, each message equal to the reading with its station's
                      final row (nulls without one; replays may repeat a message)
"""
import json
import random
import sys

from refcli import main, report

STATIONS, READINGS = 300, 3000


def gen(seed, d):
    rnd = random.Random(seed)
    with open("%s/st.tsv" % d, "w") as f:
        for s in range(STATIONS):
            f.write("S%d\t%s\n" % (s, json.dumps({"name": "station %d" % s, "alt": rnd.randint(0, 3000)})))
        for s in rnd.sample(range(STATIONS), 30):
            f.write("S%d\t%s\n" % (s, json.dumps({"name": "station %d bis" % s, "alt": rnd.randint(0, 3000)})))
        for s in rnd.sample(range(STATIONS), 10):
            f.write("S%d\t\n" % s)
    with open("%s/in.tsv" % d, "w") as f:
        for i in range(READINGS):
            f.write("S%d\t%s\n" % (rnd.randrange(STATIONS + 5), json.dumps({"id": "r%d" % i, "v": i})))


def compare(d, out, quiet=False):
    rows = {}
    for line in open("%s/st.tsv" % d):
        k, v = line.rstrip("\n").split("\t", 1)
        rows[k] = json.loads(v) if v else None
    want = {}
    for line in open("%s/in.tsv" % d):
        k, v = line.rstrip("\n").split("\t", 1)
        r = json.loads(v)
        row = rows.get(k)
        want[r["id"]] = dict(r, name=row["name"] if row else None, alt=row["alt"] if row else None)
    got, bad = set(), []
    for line in open(out):
        v = json.loads(json.loads(line)["value"])
        got.add(v["id"])
        if v != want.get(v["id"]):
            bad.append((v, want.get(v["id"])))
    missing = [k for k in want if k not in got]
    nulls = sum(1 for v in want.values() if v["name"] is None)
    ok = not bad and not missing
    return report([(ok, "each of the %d readings is joined with its station's final row (%d null; %d missing, "
                    "%d wrong%s)" % (len(want), nulls, len(missing), len(bad),
                                     ": e.g. %s" % (bad[0],) if bad else ""))], quiet)


if __name__ == "__main__":
    main(__doc__, gen, compare, 2)
