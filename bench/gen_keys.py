#!/usr/bin/python3
"""gen_keys.py N KEYS OUT - writes N records over KEYS distinct keys (k0000000...) as key<TAB>value
lines, keys in a shuffled order (each exactly once per KEYS records); event times stay within one
hour, so a tumbling 1h window keeps every key live."""
import random
import sys

n, k, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rnd = random.Random(5)
keys = list(range(k))
rnd.shuffle(keys)
with open(out, "w") as f:
    for i in range(n):
        f.write('k%07d\t{"t":%d,"v":%.2f}\n' % (keys[i % k], 1700000000000 + i % 3600000, rnd.uniform(0, 100)))
