#!/usr/bin/python3
"""map_filter_explode.py - input generator and independent reference for the
0200 integration test (topology tests/integration/0200-map-filter-explode.yaml).

  gen N OUT_INPUT OUT_EXPECTED   writes "key<TAB>json" input lines and the expected
                                 outputs: {"summary": {key: [values]}, "minutes": ..., "dlq": [...]}
  compare EXPECTED SUMMARY.jsonl MINUTES.jsonl DLQ.jsonl   prints TAP lines
"""
import json
import math
import random
import sys
import time


def gen(n, inp, exp_path):
    rnd = random.Random(200)
    cities = ["paris", "lyon", "utrecht", "brest", "nice", "lille"]
    summary, minutes, dlq = {}, {}, []
    base = 1_700_000_000
    with open(inp, "w") as f:
        for i in range(n):
            key = "c%05d" % (i % 5000)
            dt = base + i * 7
            rec = {"id": key, "city": rnd.choice(cities), "dt": dt,
                   "temp": round(rnd.uniform(-5, 35), 2),
                   "minutely": [{"dt": dt + 60 * k, "precipitation": rnd.choice([0, 0, 0.11, 0.5, 1.27, 3.3])}
                                for k in range(4)],
                   "noise": {"deep": [1, {"x": "y\"z"}], "s": "é\\u00e9"}}
            kind = i % 211
            if kind == 7:
                line = json.dumps(rec)[:-9]            # truncated JSON
                dlq.append({"offset_key": key, "reason": "malformed JSON"})
            elif kind == 11:
                rec["temp"] = "warm"                   # wrong type for the filter
                line = json.dumps(rec)
                dlq.append({"offset_key": key, "reason": "temp"})
                # a fan-out: the failing branch (warm) does not keep the
                # record from its sibling (minutes)
                for m in rec["minutely"]:
                    if m["precipitation"] > 0:
                        minutes.setdefault(key, []).append({"id": key, "m": m})
            elif kind == 13:
                del rec["dt"]                          # event time missing
                line = json.dumps(rec)
                dlq.append({"offset_key": key, "reason": "dt"})
            else:
                line = json.dumps(rec)
                precs = [m["precipitation"] for m in rec["minutely"]]
                if rec["temp"] >= 10:
                    hour = time.gmtime(dt).tm_hour
                    summary.setdefault(key, []).append({
                        "id": key, "temp_f": rec["temp"] * 9 / 5 + 32,
                        "rain": math.fsum(precs),
                        "wet_minutes": sum(1 for p in precs if p > 0),
                        "label": "%s-%d" % (rec["city"].upper(), hour)})
                for m in rec["minutely"]:
                    if m["precipitation"] > 0:
                        minutes.setdefault(key, []).append({"id": key, "m": m})
            f.write("%s\t%s\n" % (key, line))
    with open(exp_path, "w") as f:
        json.dump({"summary": summary, "minutes": minutes, "dlq": dlq}, f)
    print(sum(len(v) for v in summary.values()), sum(len(v) for v in minutes.values()), len(dlq))


def close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


def by_key(path):
    out = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            out.setdefault(r["key"], []).append((r["partition"], r["offset"], json.loads(r["value"]), r))
    for k in out:
        out[k].sort(key=lambda t: (t[0], t[1]))
    return out


def compare_topic(name, expected, path, n):
    got = by_key(path)
    missing = extra = diff = 0
    first = None
    for key, exp_vals in expected.items():
        vals = [v for _, _, v, _ in got.get(key, [])]
        if len(vals) < len(exp_vals):
            missing += len(exp_vals) - len(vals)
        elif len(vals) > len(exp_vals):
            extra += len(vals) - len(exp_vals)
        for e, g in zip(exp_vals, vals):
            if not close(e, g):
                diff += 1
                first = first or (key, e, g)
    extra += sum(len(v) for k, v in got.items() if k not in expected)
    total = sum(len(v) for v in expected.values())
    n += 1
    ok = not (missing or extra or diff)
    print("%s %d - %s: %d expected records, %d missing, %d extra, %d differ%s" % (
        "ok" if ok else "not ok", n, name, total, missing, extra, diff,
        "" if not first else " (first: %s want %s got %s)" % first))
    return n


def compare(exp_path, summary, minutes, dlq_path):
    exp = json.load(open(exp_path))
    n = compare_topic("summary (filter+map) equals the reference record by record", exp["summary"], summary, 0)
    n = compare_topic("minutes (explode+filter) equals the reference record by record", exp["minutes"], minutes, n)
    dlq = [json.loads(l) for l in open(dlq_path)]
    reasons = [d["headers"].get("spate.error", "") for d in dlq]
    want = exp["dlq"]
    n += 1
    print("%s %d - DLQ holds the %d bad records (got %d)" % ("ok" if len(dlq) == len(want) else "not ok", n,
                                                            len(want), len(dlq)))
    for tag, needle in (("malformed JSON", "malformed JSON"), ("temp", "temp"), ("dt", "dt")):
        w = sum(1 for d in want if d["reason"] == tag)
        g = sum(1 for r in reasons if needle in r)
        n += 1
        print("%s %d - DLQ reason mentions %r for %d records (got %d)" % ("ok" if w == g else "not ok", n, needle, w, g))
    hdr_ok = all({"spate.topic", "spate.partition", "spate.offset", "spate.node"} <= d["headers"].keys() for d in dlq)
    n += 1
    print("%s %d - every DLQ record names its source topic/partition/offset and node" % ("ok" if hdr_ok and dlq else "not ok", n))
    if reasons:
        print("# sample DLQ reasons: %s" % sorted(set(r[:90] for r in reasons))[:4])


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        compare(*sys.argv[2:6])
