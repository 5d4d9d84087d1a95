#!/usr/bin/python3
# geo_ref.py - independent reference for geo_index: random points, shapely lookups, comparison.
#
#   geo_ref.py gen REGIONS.geojson N SEED > points.csv
#       N uniform points over the regions' bbox plus a 10% margin, then points
#       jittered by ~1e-6 degrees around boundary vertices (polygon stress) and
#       points lying exactly on each region's rectangle bounds (bbox stress).
#   geo_ref.py lookup REGIONS.geojson PROP polygon|bbox_first_match < points.csv > ref.csv
#       one region index per point (-1 for none). polygon: shapely `contains`,
#       first region in file order; bbox_first_match: rectangles computed here
#       from the raw coordinates, bounds inclusive, first in file order.
#   geo_ref.py compare REGIONS.geojson PROP ours.csv ref.csv
#       counts disagreements, lists the first few; exit 1 when there are any.
# Needs Debian's python3-shapely 1.8 and numpy (run with /usr/bin/python3).
import json
import random
import sys

import numpy as np


def features(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["features"]


def polygons_of(geom):
    if geom is None:
        return []
    if geom["type"] == "Polygon":
        return [geom["coordinates"]]
    if geom["type"] == "MultiPolygon":
        return geom["coordinates"]
    return []


def all_positions(geom):
    for poly in polygons_of(geom):
        for ring in poly:
            for pos in ring:
                yield pos[0], pos[1]


def rects(feats):
    out = []
    for ft in feats:
        pts = list(all_positions(ft["geometry"]))
        if not pts:
            out.append(None)
            continue
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        out.append((min(xs), min(ys), max(xs), max(ys)))
    return out


def gen(path, n, seed):
    rnd = random.Random(seed)
    feats = features(path)
    rs = [r for r in rects(feats) if r]
    x0, y0 = min(r[0] for r in rs), min(r[1] for r in rs)
    x1, y1 = max(r[2] for r in rs), max(r[3] for r in rs)
    mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    out = sys.stdout
    out.write("lat,lon\n")
    for _ in range(n):
        out.write("%r,%r\n" % (rnd.uniform(y0 - my, y1 + my), rnd.uniform(x0 - mx, x1 + mx)))
    verts = [p for ft in feats for p in all_positions(ft["geometry"])]
    for _ in range(n // 5):
        vx, vy = rnd.choice(verts)
        out.write("%r,%r\n" % (vy + rnd.uniform(-1e-6, 1e-6), vx + rnd.uniform(-1e-6, 1e-6)))
    for r in rs:
        for _ in range(20):
            lat = rnd.uniform(r[1], r[3])
            lon = rnd.uniform(r[0], r[2])
            out.write("%r,%r\n%r,%r\n" % (lat, r[0], lat, r[2]))
            out.write("%r,%r\n%r,%r\n" % (r[1], lon, r[3], lon))
        out.write("%r,%r\n%r,%r\n" % (r[1], r[0], r[3], r[2]))


def read_points(f):
    lats, lons = [], []
    for line in f:
        line = line.strip()
        if not line or line.startswith("lat"):
            continue
        a, b = line.split(",")[:2]
        lats.append(float(a))
        lons.append(float(b))
    return np.array(lats), np.array(lons)


def lookup(path, mode):
    lats, lons = read_points(sys.stdin)
    feats = features(path)
    result = np.full(len(lats), -1, dtype=np.int64)
    if mode == "polygon":
        from shapely.geometry import shape
        import shapely.vectorized
        for i, ft in enumerate(feats):
            if not polygons_of(ft["geometry"]):
                continue
            inside = shapely.vectorized.contains(shape(ft["geometry"]), lons, lats)
            result[(result == -1) & inside] = i
    elif mode == "bbox_first_match":
        for i, r in enumerate(rects(feats)):
            if r is None:
                continue
            inside = (lons >= r[0]) & (lons <= r[2]) & (lats >= r[1]) & (lats <= r[3])
            result[(result == -1) & inside] = i
    else:
        sys.exit("geo_ref.py: unknown mode " + mode)
    sys.stdout.write("".join("%d\n" % v for v in result))


def compare(path, prop, ours_path, ref_path):
    names = [ft["properties"].get(prop) for ft in features(path)]
    with open(ours_path, encoding="utf-8") as f:
        ours = [line.rstrip("\n").split(",") for line in f if line.strip()]
    with open(ref_path, encoding="utf-8") as f:
        ref = [int(line) for line in f if line.strip()]
    if len(ours) != len(ref):
        print("# count mismatch: spate %d lines, reference %d" % (len(ours), len(ref)))
        return 1
    bad = [(o, r) for o, r in zip(ours, ref) if int(o[2]) != r]
    matched = sum(1 for r in ref if r >= 0)
    print("# %d points, %d inside a region, %d disagreements" % (len(ref), matched, len(bad)))
    for o, r in bad[:10]:
        print("#   lat=%s lon=%s spate=%s (%s) reference=%d (%s)"
              % (o[0], o[1], o[2], names[int(o[2])] if int(o[2]) >= 0 else "-",
                 r, names[r] if r >= 0 else "-"))
    return 1 if bad else 0


def main(argv):
    if len(argv) == 5 and argv[1] == "gen":
        gen(argv[2], int(argv[3]), int(argv[4]))
    elif len(argv) == 5 and argv[1] == "lookup":
        lookup(argv[2], argv[4])
    elif len(argv) == 6 and argv[1] == "compare":
        return compare(argv[2], argv[3], argv[4], argv[5])
    else:
        sys.exit("usage: geo_ref.py gen|lookup|compare ... (see the comment at its top)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
