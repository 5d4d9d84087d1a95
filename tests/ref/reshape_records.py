#!/usr/bin/python3
"""reshape_records.py - turns gen_window_records.py's stream into one whose
source partitions start apart: groups that span partitions, a partition's
event times shifted (hours behind the others), partitions left empty.

usage: reshape_records.py [--groups N] [--shift P:MS]... [--drop P]... < IN > OUT

Each record's "key" (the window's group) becomes one of N groups, chosen by
(partition, offset), so every group is fed by several source partitions;
--shift adds MS to the times of partition P; --drop leaves partition P empty.
Offsets ("o") stay those of the record within its partition, so the output
is still windows_ref.py's input and window_topics.py's produce-lines input.
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=5)
    ap.add_argument("--shift", action="append", default=[])
    ap.add_argument("--drop", type=int, action="append", default=[])
    args = ap.parse_args()
    shift = {}
    for s in args.shift:
        p, ms = s.split(":")
        shift[int(p)] = int(ms)
    for line in sys.stdin:
        if not line.strip():
            continue
        r = json.loads(line)
        if r["p"] in args.drop:
            continue
        r["key"] = "g%d" % ((r["o"] * 7 + r["p"] * 3) % args.groups)
        r["t"] += shift.get(r["p"], 0)
        sys.stdout.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
