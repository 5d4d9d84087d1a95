#!/usr/bin/python3
"""gen_sensors.py N OUT - writes N sensor readings (JSON, ~130 bytes) as key<TAB>value lines.
Regions are the 13 French regions; timestamps advance 100 ms a record over ~28 hours."""
import random
import sys

REGIONS = ["Auvergne-Rhône-Alpes", "Bourgogne-Franche-Comté", "Bretagne", "Centre-Val de Loire",
           "Corse", "Grand Est", "Hauts-de-France", "Île-de-France", "Normandie",
           "Nouvelle-Aquitaine", "Occitanie", "Pays de la Loire", "Provence-Alpes-Côte d'Azur"]
n, out = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(8)
with open(out, "w") as f:
    for i in range(n):
        s = rnd.randrange(20000)
        f.write('s%05d\t{"sensor":"s%05d","region":"%s","ts":%d,"temp":%.2f,"humidity":%.1f,"battery":%.2f}\n' % (
            s, s, REGIONS[s % 13], 1700000000000 + i * 100, rnd.uniform(-5, 35), rnd.uniform(20, 95),
            rnd.uniform(3.2, 4.2)))
