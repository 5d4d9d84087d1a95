#!/usr/bin/python3
"""gen_hourly_records.py - records for the standby tests' hourly windows (0882, 0883).

usage: gen_hourly_records.py K N OUT --seed S [--spread] [--prefix P]

Writes N JSON lines {"key", "t", "v", "p", "o"} (windows_ref.py's format) to OUT: keys
P00000..P(K-1) at random, event times at random over 3 hours from 1700000000000 (up to 3
hourly windows a key), values 0-999, over 4 partitions: key number % 4 (each key in one
partition), or with --spread a partition at random (each key fed by every partition, for a
window with group_by). "o" counts each partition's records.
"""
import argparse
import json
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("k", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--spread", action="store_true")
    ap.add_argument("--prefix", default="k")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    offsets = [0, 0, 0, 0]
    with open(args.out, "w") as f:
        for _ in range(args.n):
            key = rnd.randrange(args.k)
            p = rnd.randrange(4) if args.spread else key % 4
            f.write(json.dumps({"key": "%s%05d" % (args.prefix, key), "t": 1700000000000 + rnd.randrange(3 * 3600000),
                                "v": rnd.randrange(1000), "p": p, "o": offsets[p]}) + "\n")
            offsets[p] += 1


if __name__ == "__main__":
    main()
