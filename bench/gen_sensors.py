#!/usr/bin/python3
"""gen_sensors.py N OUT [--shape legacy|sensor] - writes N sensor readings as key<TAB>value lines.

legacy (default): {"sensor","region","ts","temp","humidity","battery"}, ~130 bytes, the region
  pre-computed (one of the 13 French regions), timestamps in ms advancing 100 ms a record.
sensor: {"id","timestamp","lat","lon","temperature","country"}, ~128 bytes, the shape of the
  issue-20 job: a "YYYY-MM-DD HH:MM:SS" string advancing 100 ms a record (~28 hours for 1M),
  80 % of readings in France (a point inside France's bounding box, so some fall in no region
  or in the sea) and 20 % in Belgium, Germany, Spain or Italy."""
import random
import sys
import time

REGIONS = ["Auvergne-Rhône-Alpes", "Bourgogne-Franche-Comté", "Bretagne", "Centre-Val de Loire",
           "Corse", "Grand Est", "Hauts-de-France", "Île-de-France", "Normandie",
           "Nouvelle-Aquitaine", "Occitanie", "Pays de la Loire", "Provence-Alpes-Côte d'Azur"]
OTHERS = [("Belgium", 49.5, 51.5, 2.5, 6.4), ("Germany", 47.3, 55.0, 5.9, 15.0),
          ("Spain", 36.0, 43.8, -9.3, 3.3), ("Italy", 37.0, 47.0, 6.6, 18.5)]


def legacy(rnd, f, n):
    for i in range(n):
        s = rnd.randrange(20000)
        f.write('s%05d\t{"sensor":"s%05d","region":"%s","ts":%d,"temp":%.2f,"humidity":%.1f,"battery":%.2f}\n' % (
            s, s, REGIONS[s % 13], 1700000000000 + i * 100, rnd.uniform(-5, 35), rnd.uniform(20, 95),
            rnd.uniform(3.2, 4.2)))


def sensor(rnd, f, n):
    # Each sensor keeps its place; a reading's time is its index * 100 ms from the start.
    places = []
    for s in range(20000):
        if rnd.random() < 0.8:
            places.append(("France", rnd.uniform(41.3, 51.1), rnd.uniform(-5.2, 9.6)))
        else:
            c, la0, la1, lo0, lo1 = OTHERS[s % 4]
            places.append((c, rnd.uniform(la0, la1), rnd.uniform(lo0, lo1)))
    start = 1700000000
    for i in range(n):
        s = rnd.randrange(20000)
        country, lat, lon = places[s]
        ms = i * 100
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + ms // 1000))
        f.write('s%05d\t{"id":"s%05d","timestamp":"%s","lat":%.5f,"lon":%.5f,"temperature":%.2f,"country":"%s"}\n' % (
            s, s, stamp, lat, lon, rnd.uniform(-5, 35), country))


n, out = int(sys.argv[1]), sys.argv[2]
shape = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--shape" else "legacy"
rnd = random.Random(8)
with open(out, "w") as f:
    (sensor if shape == "sensor" else legacy)(rnd, f, n)
