#!/usr/bin/python3
"""flagship_ref.py - independent checks of the flagship job (tests/integration/0900-flagship.sh).

  rain SIM_URL LATEST.jsonl READINGS.jsonl COORDS.csv
      every reading's rain fields (sum, mm, minutes, peak, wet minutes, first rain) recomputed from
      the simulator's model at the reading's forecast minute (GET /sim/onecall?t=...), temp checked
      as the metric current.temp on a sample, and every coordinate has a latest value
  regions GEOJSON PROP READINGS.jsonl FINAL.jsonl
      every closed (region, hour) of region.hourly.final recomputed from the readings with
      shapely's point-in-polygon and Python sums: mean rain (sum and mm), mean temperature, points
Prints TAP lines (without numbers; the shell numbers them)."""
import json
import math
import sys
import urllib.request


def load(path):
    out = []
    for line in open(path):
        r = json.loads(line)
        if r["value"] is not None:
            out.append(json.loads(r["value"]))
    return out


def close(a, b, tol=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def report(ok, msg):
    print(("ok - " if ok else "not ok - ") + msg)


def rain(sim, latest_path, readings_path, coords_path):
    coords = {l.split(",")[0] for l in list(open(coords_path))[1:]}
    latest = {v["id"]: v for v in load(latest_path)}
    report(set(latest) == coords, "rain.next_hour has a value for each of the %d coordinates (has %d)"
           % (len(coords), len(latest)))
    readings = load(readings_path)
    bad, first_bad, cache = 0, None, {}
    for v in readings:
        t = v["forecast_at"] // 1000
        key = (v["lat"], v["lon"], t)
        if key not in cache:
            url = "%s/sim/onecall?lat=%s&lon=%s&t=%d&units=metric&exclude=hourly,daily" % (sim, v["lat"], v["lon"], t)
            cache[key] = json.load(urllib.request.urlopen(url))["minutely"]
        m = cache[key]
        p = [x["precipitation"] for x in m]
        wet = [x["dt"] for x in m if x["precipitation"] > 0]
        want = (math.fsum(p), math.fsum(p) / 60, len(m), max(p), len(wet), wet[0] * 1000 if wet else None,
                m[0]["dt"] * 1000)
        got = (v["rain_next_hour"], v["rain_mm_next_hour"], v["minutes"], v["peak_mm_h"], v["wet_minutes"],
               v["first_rain_at"], v["forecast_at"])
        if not (close(want[0], got[0]) and close(want[1], got[1]) and all(a == b for a, b in zip(want[2:], got[2:]))):
            bad += 1
            first_bad = first_bad or (v["id"], want, got)
    report(bad == 0 and readings, "%d readings: rain sum, rain in mm (sum / 60), minutes summed, peak, wet minutes and "
           "first rain equal the simulator's model recomputed independently (%d differ%s)"
           % (len(readings), bad, "; first %s" % (first_bad,) if bad else ""))
    report(readings and all(v["minutes"] == 61 for v in readings), "every reading summed 61 minutely entries")
    # temp is current.temp in degrees C: the simulator's metric answer at the second the poll
    # saw (current.dt is within the forecast's first minute), for a sample of readings.
    sample, unmatched = readings[:: max(1, len(readings) // 40)], []
    for v in sample:
        t0 = v["forecast_at"] // 1000
        temps = set()
        for t in range(t0, t0 + 60):
            url = "%s/sim/onecall?lat=%s&lon=%s&t=%d&units=metric&exclude=minutely,hourly,daily" % (sim, v["lat"], v["lon"], t)
            temps.add(json.load(urllib.request.urlopen(url))["current"]["temp"])
        if v["temp"] not in temps:
            unmatched.append((v["id"], v["temp"], sorted(temps)[:3]))
    report(sample and not unmatched, "temp is in degrees C: %d sampled readings equal the simulator's metric current.temp "
           "within their forecast minute (%d do not%s)" % (len(sample), len(unmatched), "; first %s" % (unmatched[0],) if unmatched else ""))
    lat_ok = all(latest[i]["forecast_at"] == max(r["forecast_at"] for r in readings if r["id"] == i) for i in list(latest)[:200])
    report(lat_ok, "the latest value per coordinate is its newest forecast")


def regions(geojson, prop, readings_path, final_path):
    from shapely.geometry import Point, shape
    from shapely.prepared import prep
    feats = json.load(open(geojson))["features"]
    polys = [(f["properties"][prop], prep(shape(f["geometry"]))) for f in feats]
    sums = {}
    for v in load(readings_path):
        pt = Point(v["lon"], v["lat"])
        region = next((n for n, p in polys if p.contains(pt)), None)
        if region is None:
            continue
        hour = v["forecast_at"] // 3600000 * 3600000
        s = sums.setdefault((region, hour), [[], [], 0, []])
        s[0].append(v["rain_next_hour"])
        s[3].append(v["rain_mm_next_hour"])
        if v.get("temp") is not None:
            s[1].append(v["temp"])
        s[2] += 1
    final = load(final_path)
    bad, first_bad = 0, None
    for w in final:
        s = sums.get((w["key"], w["window_start"]))
        want = (math.fsum(s[0]) / len(s[0]), math.fsum(s[1]) / len(s[1]) if s[1] else None, s[2],
                math.fsum(s[3]) / len(s[3])) if s else None
        got = (w["mean_rain_next_hour"], w.get("mean_temp"), w["points"], w["mean_rain_mm_next_hour"])
        if not want or not (close(want[0], got[0]) and close(want[1], got[1]) and want[2] == got[2]
                            and close(want[3], got[3])):
            bad += 1
            first_bad = first_bad or (w["key"], w["window_start"], want, got)
    regions_seen = {w["key"] for w in final}
    report(final and bad == 0, "%d closed region-hours (%d regions): mean rain (sum and mm), mean temperature and points equal "
           "a shapely + Python recomputation (%d differ%s)" % (len(final), len(regions_seen), bad,
                                                              "; first %s" % (first_bad,) if bad else ""))


if __name__ == "__main__":
    {"rain": rain, "regions": regions}[sys.argv[1]](*sys.argv[2:])
