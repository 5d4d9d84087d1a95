#!/usr/bin/python3
"""join_reemit_ref.py - independent reference for 0780 (a left join with `retention:` that
re-emits a result when its table row arrives, changes or goes later, through kill -9s).

  gen SEED DIR       writes DIR/table-K.tsv (station rows: key<TAB>JSON, an empty value is a
                     tombstone) and DIR/stream-K.tsv (partition<TAB>id<TAB>JSON), K = 0..5, produced
                     in the order table-0, stream-0, table-1, stream-1, ...
  seen DIR OUT K     exit 0 once every record id of stream-0..K has a message in OUT
  compare DIR OUT [-q]
                     OUT: the join's output topic as kafka_tool.py consume lines. ok / not ok
                     lines (-q: exit status only): every record id has output; the last message
                     of each id is its last version joined with the table as it ends (nulls
                     without a row); every message is some version of its record joined with
                     some version the station's row had (or nulls).

Stations S0..S199: a third have rows before any record, the others' rows come between the
stream parts, some rows change (corrections) and some are deleted (a few come back); records
naming X-stations never get a row. Some record ids come again with another value or station
(an upstream revision: the last one is the record).
"""
import json
import random
import sys
import zlib

PARTS = 6
STATIONS = 200
RECORDS = 3000


def gen(seed, d):
    rnd = random.Random(seed)
    tables = [[] for _ in range(PARTS)]
    streams = [[] for _ in range(PARTS)]
    version = {}

    def row(k, s):
        version[s] = version.get(s, 0) + 1
        tables[k].append((s, json.dumps({"name": "%s-v%d" % (s, version[s]), "alt": rnd.randint(0, 3000)})))

    for s in range(STATIONS):
        # a third now, the others in a later part (after records that name them)
        row(0 if s % 3 == 0 else rnd.randint(1, PARTS - 1), "S%d" % s)
    for k in range(1, PARTS):
        for s in rnd.sample(range(STATIONS), 15):  # corrections
            row(k, "S%d" % s)
        for s in rnd.sample(range(0, STATIONS, 3), 4):  # rows that go (a tombstone)
            tables[k].append(("S%d" % s, ""))
        for s in rnd.sample(range(0, STATIONS, 3), 2):  # ... and come back
            row(k, "S%d" % s)
    t = 1796108400000
    ids = []
    for i in range(RECORDS):
        k = i * PARTS // RECORDS
        if ids and rnd.random() < 0.1:
            rid = rnd.choice(ids)  # a revision of an earlier record
        else:
            rid = "r%d" % i
            ids.append(rid)
        st = "X%d" % rnd.randint(0, 9) if rnd.random() < 0.05 else "S%d" % rnd.randint(0, STATIONS - 1)
        t += 1000
        rec = {"id": rid, "st": st, "v": i, "t": t}
        streams[k].append((zlib.crc32(rid.encode()) % 4, rid, json.dumps(rec)))
    for k in range(PARTS):
        with open("%s/table-%d.tsv" % (d, k), "w", encoding="utf-8") as f:
            for key, val in tables[k]:
                f.write("%s\t%s\n" % (key, val))
        with open("%s/stream-%d.tsv" % (d, k), "w", encoding="utf-8") as f:
            for p, key, val in streams[k]:
                f.write("%d\t%s\t%s\n" % (p, key, val))


def read(d):
    """Every version of each record and of each station's row (None: no row), and the last ones."""
    rec_versions, row_versions, last_rec, last_row = {}, {}, {}, {}
    for k in range(PARTS):
        with open("%s/table-%d.tsv" % (d, k), encoding="utf-8") as f:
            for line in f:
                key, val = line.rstrip("\n").split("\t", 1)
                v = json.loads(val) if val else None
                last_row[key] = v
                row_versions.setdefault(key, [None]).append(v)
        with open("%s/stream-%d.tsv" % (d, k), encoding="utf-8") as f:
            for line in f:
                _, key, val = line.rstrip("\n").split("\t", 2)
                r = json.loads(val)
                last_rec[key] = r
                rec_versions.setdefault(key, []).append(r)
    return rec_versions, row_versions, last_rec, last_row


def joined(rec, row):
    out = dict(rec)
    out["name"] = row["name"] if row else None
    out["alt"] = row["alt"] if row else None
    return out


def compare(d, out_path, quiet):
    rec_versions, row_versions, last_rec, last_row = read(d)
    last_out, bad, n = {}, [], 0
    with open(out_path, encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)
            v = json.loads(m["value"])
            n += 1
            last_out[m["key"]] = v
            rec = {k: v.get(k) for k in ("id", "st", "v", "t")}
            row = None if v.get("name") is None else {"name": v["name"], "alt": v["alt"]}
            if rec not in rec_versions.get(m["key"], []) or row not in row_versions.get(rec["st"], [None]):
                bad.append(v)
    missing = [k for k in last_rec if k not in last_out]
    wrong = [k for k in last_rec if k in last_out and last_out[k] != joined(last_rec[k], last_row.get(last_rec[k]["st"]))]
    nulls = sum(1 for r in last_rec.values() if last_row.get(r["st"]) is None)
    results = [
        (not missing and not wrong,
         "the last message of each of the %d record ids is its last version joined with the table as "
         "it ends (%d of them null; %d missing, %d wrong%s)" % (len(last_rec), nulls, len(missing), len(wrong),
                                                              ": e.g. %s" % (wrong or missing)[0] if wrong or missing else "")),
        (not bad, "each of the %d messages joins a version of its record with a version of its row "
                  "(%d not%s)" % (n, len(bad), ": e.g. %s" % bad[0] if bad else "")),
    ]
    if quiet:
        return 0 if all(ok for ok, _ in results) else 1
    for i, (ok, what) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
    return 0


def seen(d, out_path, upto):
    want = set()
    for k in range(upto + 1):
        with open("%s/stream-%d.tsv" % (d, k), encoding="utf-8") as f:
            want.update(line.split("\t", 2)[1] for line in f)
    with open(out_path, encoding="utf-8") as f:
        got = {json.loads(line)["key"] for line in f}
    return 0 if want <= got else 1


def main():
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "seen":
        sys.exit(seen(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    elif sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3], "-q" in sys.argv))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
