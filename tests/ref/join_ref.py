#!/usr/bin/python3
"""join_ref.py - input generator and independent reference for the 0750 integration test
(topology tests/integration/0750-join-table.yaml): a stream joined left with a global table
topic (stations: rows, updates, tombstones, one malformed message) and inner with a table of
dated folders (municipalities: an old version, the good one, a newer one with bad lines, an
unfinished one; then, while running, a newer good one).

  gen N DIR        writes DIR/stations.tsv (key<TAB>value; an empty value is a tombstone),
                   DIR/stream1.tsv and DIR/stream2.tsv (the records before and after the new
                   folder), DIR/munis/<dated folders>, DIR/munis-next/ (the folder published
                   while running) and DIR/expected.json; prints "OUT1 DLQ1 OUT2 DLQ2 TABLE_DLQ":
                   outputs and inner-miss dead letters of each phase, and the dead letters of
                   the tables
  compare DIR OUT.jsonl DLQ.jsonl TABLE_DLQ   prints TAP lines ("ok - ..." / "not ok - ..."); a
                   record replayed after a kill -9 may come out twice, identical; the tables'
                   dead letters are expected TABLE_DLQ times in all (they are read again at
                   every start)
"""
import json
import os
import random
import sys

STATIONS = 500
MUNIS = 200


def muni_csv(path, rows, bad=None):
    with open(path, "w") as f:
        f.write("code,name,population\n")
        for code, name, pop in rows:
            f.write('%s,"%s",%d\n' % (code, name.replace('"', '""'), pop))
        if bad:
            f.write(bad)


def publish(folder, rows, complete=True, bad=None):
    os.makedirs(folder)
    half = len(rows) // 2
    muni_csv(os.path.join(folder, "part-0.csv"), rows[:half])
    with open(os.path.join(folder, "part-1.jsonl"), "w") as f:
        for code, name, pop in rows[half:]:
            f.write(json.dumps({"code": code, "name": name, "population": pop}) + "\n")
        if bad:
            f.write(bad)
    if complete:
        open(os.path.join(folder, "_SUCCESS"), "w").close()


def gen(n, d):
    rnd = random.Random(750)
    stations = {}
    table_dlq = 0
    with open(os.path.join(d, "stations.tsv"), "w") as f:
        for i in range(STATIONS):
            key = "S%04d" % i
            row = {"name": "Station %d, \"%s\"" % (i, rnd.choice(["nord", "sud", "é"])),
                   "alt": rnd.randint(-5, 900), "lat": round(rnd.uniform(42, 51), 4)}
            stations[key] = row
            f.write("%s\t%s\n" % (key, json.dumps(row)))
        for i in range(0, STATIONS, 7):       # updates
            key = "S%04d" % i
            row = dict(stations[key], name="Renamed %d" % i, alt=stations[key]["alt"] + 1)
            stations[key] = row
            f.write("%s\t%s\n" % (key, json.dumps(row)))
        for i in range(0, STATIONS, 10):      # tombstones
            key = "S%04d" % i
            del stations[key]
            f.write("%s\t\n" % key)
        f.write("S0013\t{broken\n")           # dead-lettered; S0013 keeps its row
        table_dlq += 1

    names = {c: "Gemeente %d" % c for c in range(MUNIS)}
    v1 = [("%04d" % c, names[c], 1000 + c) for c in range(MUNIS)]
    base = os.path.join(d, "munis")
    publish(os.path.join(base, "2026-11-30"), [(c, "Old " + nm, p) for c, nm, p in v1])
    publish(os.path.join(base, "2026-12-01"), v1)
    # complete but with bad lines (one per file): refused, the 12-01 version stays
    publish(os.path.join(base, "2026-12-02"), [(c, "Bad " + nm, p) for c, nm, p in v1],
            bad='0999,"never closed,1\n')
    with open(os.path.join(base, "2026-12-02", "part-0.csv"), "a") as f:
        f.write("0998,too,many,cells\n")
    table_dlq += 2
    # unfinished (no _SUCCESS): never read
    publish(os.path.join(base, "2026-12-03"), [(c, "Half " + nm, p) for c, nm, p in v1], complete=False)
    # published while running: fewer municipalities, new populations
    v4 = [("%04d" % c, names[c] + " (2026)", 2000 + c) for c in range(0, MUNIS - 50)]
    os.makedirs(os.path.join(d, "munis-next"))
    publish(os.path.join(d, "munis-next", "2026-12-04"), v4)

    expected = {"out": {}, "dlq": {}, "table_dlq": table_dlq}
    counts = []
    for phase, munis in ((1, {c: (nm, p) for c, nm, p in v1}), (2, {c: (nm, p) for c, nm, p in v4})):
        out = dlq = 0
        with open(os.path.join(d, "stream%d.tsv" % phase), "w") as f:
            for i in range(n // 2):
                rid = (phase - 1) * (n // 2) + i
                rec = {"id": rid, "st": "S%04d" % rnd.randrange(STATIONS + 20),
                       "muni": "%04d" % rnd.randrange(MUNIS + 10), "v": rid * 0.25}
                if rid % 97 == 5:
                    del rec["st"]                 # no key: a left join goes on with nulls
                f.write("%d\t%s\n" % (rid, json.dumps(rec)))
                st = stations.get(rec.get("st"))
                m = munis.get(rec["muni"])
                if m is None:
                    expected["dlq"][str(rid)] = "no row for key %s in table munis" % rec["muni"]
                    dlq += 1
                    continue
                expected["out"][str(rid)] = dict(rec, station=st["name"] if st else None,
                                                 alt=st["alt"] if st else None,
                                                 muni_name=m[0], pop=m[1])
                out += 1
        counts += [out, dlq]
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f)
    print(*counts, table_dlq)


def compare(d, out_path, dlq_path, table_dlq):
    exp = json.load(open(os.path.join(d, "expected.json")))
    got, dup, differ = {}, 0, 0
    for line in open(out_path):
        v = json.loads(json.loads(line)["value"])
        k = str(v["id"])
        if k in got:
            dup += 1
            differ += got[k] != v
        got[k] = v
    wrong = [k for k in exp["out"] if got.get(k) != exp["out"][k]]
    extra = [k for k in got if k not in exp["out"]]
    print("%s - %d output rows equal the reference's (%d wrong or missing, %d extra; %d replayed, %d of "
          "them different)%s" % ("ok" if not wrong and not extra and not differ else "not ok", len(exp["out"]),
                                 len(wrong), len(extra), dup, differ, "" if not wrong else
                                 ": first %s: got %s, want %s" % (wrong[0], got.get(wrong[0]), exp["out"][wrong[0]])))
    nulls = sum(1 for v in exp["out"].values() if v["station"] is None)
    print("ok - of which %d with null station fields (no row, deleted, or no key)" % nulls)
    misses, table, bad = {}, [], []
    for line in open(dlq_path):
        m = json.loads(line)
        h = m["headers"]
        if h.get("spate.node") == "with_muni":
            misses[str(json.loads(m["value"])["id"])] = h["spate.error"]
        elif h.get("spate.node") in ("stations", "munis"):
            table.append(h)
        else:
            bad.append(h)
    wrong = [k for k in exp["dlq"] if misses.get(k) != "with_muni: " + exp["dlq"][k]]
    print("%s - %d inner misses dead-lettered with their reason (%d wrong, %d extra)" %
          ("ok" if not wrong and len(misses) == len(exp["dlq"]) else "not ok", len(exp["dlq"]), len(wrong),
           len(misses) - len(exp["dlq"]) + len(wrong)))
    files = sorted(h["spate.error"].split(": ", 3)[2] for h in table if h["spate.node"] == "munis")
    tops = [h for h in table if h["spate.node"] == "stations"]
    ok = (len(table) == int(table_dlq) and
          all(h["spate.topic"] == "it0750.stations" for h in tops)
          and {tuple(f.rsplit("/", 2)[1:]) for f in files} ==
          {("2026-12-02", "part-0.csv:102"), ("2026-12-02", "part-1.jsonl:101")})
    print("%s - table dead letters: the malformed station message at each start and each bad line of the "
          "refused folder with file:line, at each start (%d in all, want %s; %s; %d others)" %
          ("ok" if ok and not bad else "not ok", len(table), table_dlq, files, len(bad)))
    print("%s - every record accounted for: %d out + %d dead letters = %d in" %
          ("ok" if len(got) + len(misses) == len(exp["out"]) + len(exp["dlq"]) else "not ok", len(got),
           len(misses), len(exp["out"]) + len(exp["dlq"])))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), sys.argv[3])
    else:
        compare(*sys.argv[2:6])
