#!/usr/bin/python3
"""region_sql_ref.py - reference for 0720 (topology/region_hourly_sql.yaml).

  gen OUT                 region.hourly updates as key<TAB>JSON lines, the shape region_hourly.yaml's
                          window writes: 13 regions x 30 hours, 1-4 running updates per hour (points
                          grow), some hours with no temperature (mean_temp null)
  compare IN TABLE QUERY  TABLE: psql's dump of region_hourly (hour, region, temperature, points);
                          QUERY: the README's 3-hours-before query. Prints ok/not ok lines; -q: status only.
"""
import json
import random
import sys
import time

REGIONS = ["Auvergne-Rhône-Alpes", "Bourgogne-Franche-Comté", "Bretagne", "Centre-Val de Loire", "Corse",
           "Grand Est", "Hauts-de-France", "Île-de-France", "Normandie", "Nouvelle-Aquitaine", "Occitanie",
           "Pays de la Loire", "Provence-Alpes-Côte d'Azur"]
H = 3600000
T0 = 1700000000000 // H * H


def gen(out):
    r = random.Random(20)
    with open(out, "w") as f:
        for h in range(30):
            for reg in REGIONS:
                points = 0
                for _ in range(r.randint(1, 4)):
                    points += r.randint(1, 50)
                    temp = None if r.random() < 0.05 else round(r.uniform(-5, 30), 3)
                    v = {"key": reg, "window_start": T0 + h * H, "window_end": T0 + (h + 1) * H,
                         "mean_rain_next_hour": round(r.uniform(0, 3), 3), "mean_temp": temp, "points": points}
                    f.write("%s@%d\t%s\n" % (reg, T0 + h * H, json.dumps(v, ensure_ascii=False)))


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ms // 1000))


def expected(inp):
    last = {}
    for line in open(inp, encoding="utf-8"):
        v = json.loads(line.split("\t", 1)[1])
        last[(v["window_start"], v["key"])] = (v["mean_temp"], v["points"])
    table = sorted((iso(s), reg, t, p) for (s, reg), (t, p) in last.items())
    query = []
    for (s, reg), (t, _) in sorted(last.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        before = last.get((s - 3 * H, reg))
        query.append((iso(s), reg, t, before[0] if before else None))
    return table, query


def num(x):
    return None if x == "" else float(x)


def compare(inp, table_tsv, query_tsv, quiet):
    table, query = expected(inp)
    got = sorted((l[0], l[1], num(l[2]), int(l[3])) for l in
                 (x.rstrip("\n").split("\t") for x in open(table_tsv, encoding="utf-8")) if len(l) == 4)
    gotq = [(l[0], l[1], num(l[2]), num(l[3])) for l in
            (x.rstrip("\n").split("\t") for x in open(query_tsv, encoding="utf-8")) if len(l) == 4]
    res = [(got == table, "region_hourly: %d rows (hour, region), each the last update of its hour%s"
            % (len(table), "" if got == table else ": %d rows, first difference %s" % (
                len(got), next(((a, b) for a, b in zip(table, got) if a != b), None)))),
           (gotq == query, "the README's query: %d rows of temperature and temperature 3 hours before, "
            "in region and hour order (%d with an hour 3 hours before)%s"
            % (len(query), sum(1 for q in query if q[3] is not None), "" if gotq == query else ": differs"))]
    for ok, what in res:
        if not quiet:
            print("%s - %s" % ("ok" if ok else "not ok", what))
    return all(ok for ok, _ in res)


if __name__ == "__main__":
    a = [x for x in sys.argv[1:] if x != "-q"]
    if a[0] == "gen":
        gen(a[1])
    elif a[0] == "compare":
        sys.exit(0 if compare(a[1], a[2], a[3], "-q" in sys.argv) else 1)
    else:
        sys.exit(__doc__)
