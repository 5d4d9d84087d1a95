#!/usr/bin/python3
"""compare_windows.py - compares window outputs (reference vs engine) and prints TAP.

usage: compare_windows.py NAME REF.jsonl GOT.jsonl [START_N]

Windows are matched by (key, window_start): the same set on both sides, the same
window_end, count and count_distinct exactly, sum and mean within 1e-12
relative, min, max, first and last exactly; and the same late records.
Prints "ok N - ..." / "not ok N - ..." lines; exit status 1 on any mismatch.
"""
import json
import sys


def load(path):
    windows, late = {}, set()
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            if "late" in row:
                r = row["late"]
                late.add((r["key"], r["t"], r["p"], r["o"]))
            else:
                windows[(row["key"], row["window_start"])] = row
    return windows, late


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b)) or a == b


def main():
    name, ref_path, got_path = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    ref, ref_late = load(ref_path)
    got, got_late = load(got_path)
    failed = 0

    def check(cond, msg):
        nonlocal n, failed
        print(("ok %d - " if cond else "not ok %d - ") % n + name + ": " + msg)
        n += 1
        failed += not cond

    missing = sorted(set(ref) - set(got))[:5]
    extra = sorted(set(got) - set(ref))[:5]
    check(not missing and not extra, "same %d windows (missing %s, extra %s)"
          % (len(ref), missing, extra))
    check(ref_late == got_late, "same %d late records (ref only %s, engine only %s)"
          % (len(ref_late), sorted(ref_late - got_late)[:3], sorted(got_late - ref_late)[:3]))
    bad = {}
    for k in sorted(set(ref) & set(got)):
        r, g = ref[k], got[k]
        for field in r:
            if field in ("key", "window_start"):
                continue
            if field in ("sum", "mean"):
                ok = close(r[field], g.get(field))
            else:
                ok = r[field] == g.get(field)
            if not ok:
                bad.setdefault(field, []).append((k, r[field], g.get(field)))
    fields = [f for f in next(iter(ref.values()), {}) if f not in ("key", "window_start")]
    for field in fields:
        errs = bad.get(field, [])
        check(not errs, "%s equal in every window%s"
              % (field, "" if not errs else " - %d differ, e.g. %s" % (len(errs), errs[:3])))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
