#!/usr/bin/python3
"""gen_window_records.py - a fixed pseudo-random record stream for window tests.

usage: gen_window_records.py [--seed N] [--records N] [--grace MS] [--late-delay MS]
                             [--boundaries MS,MS,...]

Prints JSON lines {"key", "t", "v", "p", "o"} in arrival order: 4 partitions
interleaved, 3 keys each ("alic" and "alice" included), times starting below
zero with bursts and pauses, most records in order, many out of order within
grace, some exactly at close boundaries, a few far behind (late), values of wildly different magnitudes, small
repeated integers and some nulls.
"""
import argparse
import json
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=800)
    ap.add_argument("--records", type=int, default=4000)
    ap.add_argument("--grace", type=int, default=300)
    ap.add_argument("--late-delay", type=int, default=3000)
    ap.add_argument("--boundaries", default="300,450,800,1300",
                    help="delays (ms) that hit close times: grace, gap+grace, size+grace")
    args = ap.parse_args()
    args.boundaries = [int(b) for b in args.boundaries.split(",")]
    rnd = random.Random(args.seed)
    keys = ["alic", "alice", "bob", "carol", "dave", "eve", "k7", "k8", "k9", "", "z" * 40, "ünï"]
    nparts = 4
    clock = [-20000 - 777 * p for p in range(nparts)]
    offset = [0] * nparts
    for _ in range(args.records):
        p = rnd.randrange(nparts)
        r = rnd.random()
        # Steps of 10 ms (sizes, gaps and grace are multiples of 10 too) make
        # records land exactly on window boundaries and close times often.
        clock[p] += 10 * (rnd.randrange(0, 400) if r < 0.02 else rnd.randrange(0, 4))
        t = clock[p]
        r = rnd.random()
        if r < 0.25:
            t -= 10 * rnd.randrange(0, args.grace // 10)      # out of order, within grace
        elif r < 0.28:
            t -= 10 * rnd.randrange(args.grace // 10, args.late_delay // 10)  # maybe late
        elif r < 0.34:
            # Exactly at a lateness or close boundary of one of the tested specs.
            t -= rnd.choice(args.boundaries) + rnd.choice((-10, 0, 0, 10))
        r = rnd.random()
        if r < 0.05:
            v = None
        elif r < 0.25:
            v = rnd.randrange(-3, 10)
        elif r < 0.30:
            v = rnd.uniform(-1, 1) * 10 ** rnd.randrange(8, 13)
        elif r < 0.35:
            v = rnd.uniform(-1, 1) * 10 ** -rnd.randrange(3, 9)
        else:
            v = round(rnd.uniform(-1000, 1000), rnd.randrange(0, 6))
        key = keys[p * 3 + rnd.randrange(3)]
        print(json.dumps({"key": key, "t": t, "v": v, "p": p, "o": offset[p]}))
        offset[p] += 1


if __name__ == "__main__":
    main()
