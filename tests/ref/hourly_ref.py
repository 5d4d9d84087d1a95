#!/usr/bin/python3
"""hourly_ref.py - independent reference for the window crash tests: per region and
hour of "ts", the count, sum and mean of "temp" of bench/gen_sensors.py's records.

  expect IN.tsv EXPECTED.json             computes the reference (math.fsum)
  compare EXPECTED.json OUTPUT.jsonl [-q]  the compacted view of the output topic
                                           (latest value per key) against it; prints
                                           TAP lines "ok - ..." / "not ok - ..." (-q: none)
                                           and exits 0 only when every window is exact:
                                           counts equal, sums and means within 1e-9
                                           relative, no window missing or extra
"""
import json
import math
import sys
from collections import defaultdict

from window_topics import latest

HOUR = 3600 * 1000


def expect(src, dst):
    temps = defaultdict(list)
    n = 0
    with open(src) as f:
        for line in f:
            _, _, value = line.rstrip("\n").partition("\t")
            r = json.loads(value)
            start = r["ts"] // HOUR * HOUR
            temps["%s|%d" % (r["region"], start)].append(r["temp"])
            n += 1
    out = {k: [len(v), math.fsum(v)] for k, v in temps.items()}
    with open(dst, "w") as f:
        json.dump({"records": n, "windows": out}, f)


def close(a, b):
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def compare(exp_path, out_path, quiet):
    exp = json.load(open(exp_path))
    got = {}
    for value in latest(out_path).values():
        if value is None:
            continue
        row = json.loads(value)
        got["%s|%d" % (row["key"], row["window_start"])] = row
    windows = exp["windows"]
    missing = sorted(set(windows) - set(got))
    extra = sorted(set(got) - set(windows))
    bad_count = [k for k in windows if k in got and got[k]["count"] != windows[k][0]]
    bad_sum = [k for k in windows if k in got and not close(got[k]["sum"], windows[k][1])]
    bad_mean = [k for k in windows if k in got and
                not close(got[k]["mean"], windows[k][1] / windows[k][0])]
    applied = sum(r["count"] for r in got.values())
    checks = [
        (not missing and not extra, "same %d windows (missing %s, extra %s)"
         % (len(windows), missing[:3], extra[:3])),
        (not bad_count, "count exact in every window (%d differ, e.g. %s)"
         % (len(bad_count), [(k, got[k]["count"], windows[k][0]) for k in bad_count[:3]])),
        (not bad_sum, "sum within 1e-9 in every window (%d differ)" % len(bad_sum)),
        (not bad_mean, "mean within 1e-9 in every window (%d differ)" % len(bad_mean)),
        (applied == exp["records"], "records applied (%d) = valid input records (%d)"
         % (applied, exp["records"])),
    ]
    if not quiet:
        for good, msg in checks:
            print(("ok - " if good else "not ok - ") + msg)
    sys.exit(0 if all(c[0] for c in checks) else 1)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "expect":
        expect(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3], "-q" in sys.argv)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
