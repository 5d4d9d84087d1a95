#!/usr/bin/python3
"""current_weather_ref.py - independent reference for topology/current_weather.yaml (test 0740).

  compare TOPIC.jsonl SIM_URL SIM_LOG CITIES.csv[,CITIES.csv...] DB [-q]
  pg-queries       prints "table<TAB>SELECT ..." lines: what a PostgreSQL dump must run (psql -At,
                   tab-separated, into DIR/<table>.tsv) for `compare ... DIR`

DB is the SQLite file, or a directory of PostgreSQL dumps made with pg-queries' SELECTs.

TOPIC.jsonl is weather.current as kafka_tool.py consumed it. Checks, printing "ok - ..." or
"not ok - ..." lines (-q: prints nothing, exits 0 only when every check passes):
  - every observation on the topic is what the simulator serves for that city at that dt
    (asked again from its /sim/weather endpoint, in metric units), none is doubled, and their
    count per city is at most the number of 200 answers the simulator logged for the city
    (and not far below it: only polls in flight at a kill may be lost);
  - weather_observations holds exactly one row per observation, with its values;
  - weather_daily holds, per city and UTC day, min/max/mean temperature, 24 x the mean rain
    rate and the count, computed here from the observations;
  - weather_moving_3h holds, per city and 3-hour window starting every hour, the means of
    temperature, humidity and wind speed and the count.
"""
import csv
import datetime
import http.client
import json
import math
import os
import sqlite3
import sys
import urllib.parse

# Each table's columns as compared, with their kind: t text, f double, i bigint, ts timestamp.
TABLES = {
    "weather_observations": "city:t observed_at:ts name:t temp:f feels_like:f humidity:f pressure:f "
                            "wind_speed:f wind_deg:f rain_1h:f clouds:f",
    "weather_daily": "city:t day:t min_temp:f max_temp:f mean_temp:f rain_mm:f observations:i",
    "weather_moving_3h": "city:t window_start:ts window_end:ts mean_temp:f mean_humidity:f "
                         "mean_wind_speed:f observations:i",
}
HOUR = 3600 * 1000
DAY = 24 * HOUR


def iso(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def close(a, b):
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))


def load_cities(paths):
    cities = {}
    for p in paths.split(","):
        for r in csv.DictReader(open(p)):
            cities[r["id"]] = (float(r["lat"]), float(r["lon"]), r["name"])
    return cities


def columns(table):
    return [c.split(":") for c in TABLES[table].split()]


def pg_queries():
    ts = "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    for t in TABLES:
        cols = [ts % c if k == "ts" else c for c, k in columns(t)]
        print("%s\tSELECT %s FROM %s" % (t, ", ".join(cols), t))


class Tables:
    """The rows of the tables, from SQLite or from a directory of PostgreSQL dumps."""
    def __init__(self, path):
        self.dir = path if os.path.isdir(path) else None
        self.db = None if self.dir else sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)

    def rows(self, table):
        cols = columns(table)
        if self.db:
            return self.db.execute("SELECT %s FROM %s" % (", ".join(c for c, _ in cols), table)).fetchall()
        conv = {"t": str, "ts": str, "f": float, "i": int}
        with open(os.path.join(self.dir, table + ".tsv")) as f:
            return [tuple(conv[k](v) for (_, k), v in zip(cols, line.rstrip("\n").split("\t")))
                    for line in f]


class Sim:
    """What the simulator serves for a coordinate at a time (its no-key, no-fault endpoint)."""
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)

    def weather(self, lat, lon, t):
        self.conn.request("GET", "/sim/weather?lat=%s&lon=%s&t=%d&units=metric" % (lat, lon, t))
        return json.loads(self.conn.getresponse().read())


def expected_observation(body):
    return {"temp": body["main"]["temp"], "feels_like": body["main"]["feels_like"],
            "humidity": body["main"]["humidity"], "pressure": body["main"]["pressure"],
            "wind_speed": body["wind"]["speed"], "wind_deg": body["wind"]["deg"],
            "rain_1h": body.get("rain", {}).get("1h", 0), "clouds": body["clouds"]["all"]}


def check_topic(recs, cities, sim, log_path, say):
    """The observations, keyed (city, observed_at ms), after checking them against the simulator."""
    obs, wrong, doubled = {}, [], 0
    for r in recs:
        v = json.loads(r["value"])
        k = (v["city"], int(v["observed_at"]))
        doubled += k in obs
        lat, lon, name = cities[v["city"]]
        want = expected_observation(sim.weather(lat, lon, k[1] // 1000))
        got = {f: v.get(f) for f in want}
        if got != want or v["name"] != name or r["key"] != v["city"]:
            wrong.append((k, got, want))
        obs[k] = v
    say(not wrong, "all %d observations on weather.current are what the simulator serves for "
        "their city and dt (%d differ, e.g. %s)" % (len(recs), len(wrong), wrong[:1]))
    say(doubled == 0, "no observation is on the topic twice (%d are)" % doubled)
    served = {}
    by_coord = {("%g" % la, "%g" % lo): c for c, (la, lo, _) in cities.items()}
    for line in open(log_path):
        _, _, lat, lon, status, fault = line.split()
        if status == "200" and fault == "-":
            c = by_coord.get(("%g" % float(lat), "%g" % float(lon)), "?")
            served[c] = served.get(c, 0) + 1
    per_city = {}
    for c, _ in obs:
        per_city[c] = per_city.get(c, 0) + 1
    bad = [(c, per_city.get(c, 0), served.get(c, 0)) for c in cities
           if not 0 < served.get(c, 0) * 0.8 <= per_city.get(c, 0) <= served.get(c, 0)]
    say(not bad and "?" not in served,
        "per city, the observations published are the simulator's 200 answers but for a few lost "
        "in flight at the kills (%d published of %d served; off: %s)"
        % (len(obs), sum(served.values()), bad[:3]))
    return obs


def reference_tables(obs):
    raw = {(c, iso(t)): v for (c, t), v in obs.items()}
    daily, moving = {}, {}
    for (c, t), v in sorted(obs.items()):
        day = t - t % DAY
        daily.setdefault((c, iso(day)[:10]), []).append(v)
        first = t - t % HOUR - 2 * HOUR
        for s in range(first, t + 1, HOUR):       # the 3 windows [s, s + 3 h) holding t
            moving.setdefault((c, iso(s)), []).append(v)
    return raw, daily, moving


def mean(vs, f):
    return math.fsum(v[f] for v in vs) / len(vs)


def compare_raw(db, raw, say):
    cols = [c for c, _ in columns("weather_observations")[3:]]
    rows = db.rows("weather_observations")
    got = {(r[0], r[1]): r[2:] for r in rows}
    want = {k: (v["name"],) + tuple(v[c] for c in cols) for k, v in raw.items()}
    diff = [k for k in set(got) | set(want) if got.get(k) != want.get(k)]
    say(len(rows) == len(got) and not diff,
        "weather_observations: %d rows, one per observation, equal to the reference's %d (%d differ, e.g. %s)"
        % (len(rows), len(want), len(diff), [(k, got.get(k), want.get(k)) for k in diff[:1]]))


def compare_daily(db, daily, say):
    rows = db.rows("weather_daily")
    got = {(r[0], r[1]): r[2:] for r in rows}
    diff = []
    for k in set(got) | set(daily):
        vs, g = daily.get(k), got.get(k)
        if not vs or not g or g[0] != min(v["temp"] for v in vs) or \
                g[1] != max(v["temp"] for v in vs) or not close(g[2], mean(vs, "temp")) or \
                not close(g[3], mean(vs, "rain_1h") * 24) or g[4] != len(vs):
            diff.append((k, g, vs and len(vs)))
    days = sorted({d for _, d in daily})
    say(not diff, "weather_daily: %d rows (days %s), min/max/mean temperature, rain and count "
        "equal to the reference (%d differ, e.g. %s)" % (len(rows), days, len(diff), diff[:1]))
    return days


def compare_moving(db, moving, say):
    rows = db.rows("weather_moving_3h")
    got = {(r[0], r[1]): r[2:] for r in rows}
    diff = []
    for k in set(got) | set(moving):
        vs, g = moving.get(k), got.get(k)
        end = vs and iso(int(datetime.datetime.strptime(k[1], "%Y-%m-%dT%H:%M:%S.000Z").replace(
            tzinfo=datetime.timezone.utc).timestamp() * 1000) + 3 * HOUR)
        if not vs or not g or g[0] != end or not close(g[1], mean(vs, "temp")) or \
                not close(g[2], mean(vs, "humidity")) or \
                not close(g[3], mean(vs, "wind_speed")) or g[4] != len(vs):
            diff.append((k, g, vs and len(vs)))
    say(not diff, "weather_moving_3h: %d rows, 3-hour means of temperature, humidity and wind "
        "every hour, equal to the reference (%d differ, e.g. %s)" % (len(rows), len(diff), diff[:1]))


def compare(topic, sim_url, sim_log, city_files, db_path, quiet):
    results = []

    def say(cond, msg):
        results.append(bool(cond))
        if not quiet:
            print(("ok - " if cond else "not ok - ") + msg)

    cities = load_cities(city_files)
    recs = [json.loads(line) for line in open(topic)]
    obs = check_topic(recs, cities, Sim(sim_url), sim_log, say)
    raw, daily, moving = reference_tables(obs)
    db = Tables(db_path)
    compare_raw(db, raw, say)
    days = compare_daily(db, daily, say)
    compare_moving(db, moving, say)
    cities_both = {c for c, d in daily if d == days[0]} & {c for c, d in daily if d == days[-1]}
    say(len(days) >= 2 and len(cities_both) == len(cities),
        "the run spans a UTC midnight: %d days, %d of %d cities observed on the first and last"
        % (len(days), len(cities_both), len(cities)))
    return all(results)


def main():
    if sys.argv[1:] == ["pg-queries"]:
        return pg_queries()
    if len(sys.argv) < 7 or sys.argv[1] != "compare":
        sys.exit(__doc__)
    ok = compare(*sys.argv[2:7], quiet="-q" in sys.argv[7:])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
