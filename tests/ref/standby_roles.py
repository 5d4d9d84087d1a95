#!/usr/bin/python3
"""standby_roles.py - who owns and who keeps a standby copy of each task, from instances' logs
(0881, 0883).

usage: standby_roles.py TOPIC NPARTS LOG...

Each LOG is an instance's log, named .../spate-NAME.log. Its last "assigned K partitions" line
says which partitions of TOPIC it owns; its last "standby: following" line (logged when its
choice changes) which it follows. Prints "p owner followers" for p in 0..NPARTS-1 (names
comma-separated, "-" for none; a follower that owns the task is not counted) and exits 0 when
the owners hold the NPARTS partitions once each and each has exactly one follower.
"""
import re
import sys


def main():
    topic, nparts, logs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    pat = re.escape(topic) + r"\[(\d+)\]"
    owned, follows = {}, {}
    for path in logs:
        name = re.sub(r"^spate-|\.log$", "", path.rsplit("/", 1)[-1])
        owned[name], follows[name] = set(), set()
        for line in open(path):
            if re.search(r"assigned \d+ partitions", line):
                owned[name] = set(map(int, re.findall(pat, line)))
            elif "standby: following" in line:
                follows[name] = set(map(int, re.findall(pat, line.split("):", 1)[1])))
    good = sorted(p for n in owned for p in owned[n]) == list(range(nparts))
    for p in range(nparts):
        o = [n for n in owned if p in owned[n]]
        f = [n for n in follows if p in follows[n] and p not in owned[n]]
        print(p, ",".join(o) or "-", ",".join(f) or "-")
        good &= len(o) == 1 and len(f) == 1
    sys.exit(0 if good else 1)


if __name__ == "__main__":
    main()
