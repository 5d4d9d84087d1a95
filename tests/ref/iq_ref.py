#!/usr/bin/python3
"""iq_ref.py - checks interactive queries (`spate run --http`, /state) of
topology/iot_resample.yaml against the independent reference of iot_ref.py, computed from what
`spate iot-sim` published (test 0470).

  history SENSORS.json SIM_LOGS RAW.jsonl TOKEN URL...
        SIM_LOGS: the simulator logs, comma-separated; RAW: a `kafka_tool.py consume` dump of the
        raw topic (which partition holds each sensor and how far its stream time got, as in
        iot_ref.py). For every sensor and every instance URL: GET /state/per_minute/<sensor>/history
        returns exactly the reference's 1-minute rows (every field, in window order); a from/to
        sub-range returns exactly the rows starting in it (ISO-8601 and ms bounds alike); a limit
        returns the first rows and says whether it cut;
        GET /state/per_minute/<sensor> is the reference's last row; a scan with a prefix returns
        the latest row of each matching sensor, in key order, cut at limit; the `limits` table
        answers each sensor's lo/hi; the dedupe store `once` answers a few mqtt_ids with the event
        time they passed (asked of every instance: its key is not the record key). Each instance answers some sensors itself and forwards the
        others (the X-Spate-Served-By header names the instance that read the state). TAP-like
        lines; exit 0 when all hold.
"""
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iot_ref  # noqa: E402
from resample_ref import same  # noqa: E402

NODE = "per_minute"


def get(url, token):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers


def reference(sensors, logs, raw_path):
    ranges = {s["id"]: tuple(s["range"]) for s in json.load(open(sensors))["sensors"]}
    pub = iot_ref.published(logs)
    part_of, part_time = {}, defaultdict(int)
    for r in iot_ref.load(raw_path):
        v = json.loads(r["value"])
        part_of[r["key"]] = r["partition"]
        part_time[r["partition"]] = max(part_time[r["partition"]], v["ts"])
    rows = defaultdict(dict)
    for k, row in iot_ref.expect(ranges, pub, part_of, part_time).items():
        sensor, start = k.rsplit("@", 1)
        rows[sensor][int(start)] = row
    return ranges, rows


def diff(got, want):
    """The first difference between HTTP rows and reference rows {start: row}, or None."""
    starts = [r.get("window_start") for r in got]
    if starts != sorted(want):
        return "window starts %s..., want %s..." % (starts[:4], sorted(want)[:4])
    for r in got:
        w = want[r["window_start"]]
        if r["window_end"] != r["window_start"] + iot_ref.SIZE:
            return "%d: window_end %s" % (r["window_start"], r["window_end"])
        bad = [c for c in w if not same(r.get(c), w[c])]
        if bad:
            return "%d %s: got %s, want %s" % (r["window_start"], bad[0], r.get(bad[0]), w[bad[0]])
    return None


def iso(ms):
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_instance(base, token, ranges, rows, res):
    served = defaultdict(int)
    q = urllib.parse.quote
    for sensor in sorted(rows):
        want = rows[sensor]
        st, body, hdr = get("%s/state/%s/%s/history" % (base, NODE, q(sensor)), token)
        served[hdr.get("X-Spate-Served-By") == base] += 1
        d = diff(body["rows"], want) if st == 200 else "status %d: %s" % (st, body)
        res.append((d is None, "%s: %s's history is the reference's %d rows%s" % (base, sensor, len(want),
                                                                                 "; " + d if d else "")))
        starts = sorted(want)
        lo, hi = starts[len(starts) // 3], starts[2 * len(starts) // 3]
        sub = {s: r for s, r in want.items() if lo <= s < hi}
        for a, b in ((iso(lo), iso(hi)), (str(lo), str(hi))):
            st, body, _ = get("%s/state/%s/%s/history?from=%s&to=%s" % (base, NODE, q(sensor), a, b), token)
            d = diff(body["rows"], sub) if st == 200 else "status %d: %s" % (st, body)
            res.append((d is None, "%s: %s's history from %s to %s is the reference's %d rows%s"
                        % (base, sensor, a, b, len(sub), "; " + d if d else "")))
        for lim in (2, len(want)):
            st, body, _ = get("%s/state/%s/%s/history?limit=%d" % (base, NODE, q(sensor), lim), token)
            first = {s: want[s] for s in starts[:lim]}
            d = diff(body["rows"], first) if st == 200 else "status %d: %s" % (st, body)
            d = d or (None if body["truncated"] == (lim < len(want)) else "truncated %s" % body["truncated"])
            res.append((d is None, "%s: %s's history with limit=%d: the first %d rows, truncated %s%s"
                        % (base, sensor, lim, lim, lim < len(want), "; " + d if d else "")))
        st, body, _ = get("%s/state/%s/%s" % (base, NODE, q(sensor)), token)
        d = diff([body], {starts[-1]: want[starts[-1]]}) if st == 200 else "status %d: %s" % (st, body)
        res.append((d is None, "%s: %s's current value is the reference's last row (%s)%s"
                    % (base, sensor, iso(starts[-1]), "; " + d if d else "")))
        st, body, _ = get("%s/state/limits/%s" % (base, q(sensor)), token)
        ok = st == 200 and (body["lo"], body["hi"]) == tuple(float(x) for x in ranges[sensor])
        res.append((ok, "%s: table limits answers %s's range %s (got %s %s)" % (base, sensor, ranges[sensor], st, body)))
    res.append((served[True] > 0 and served[False] > 0,
                "%s answered %d sensors itself and forwarded %d" % (base, served[True], served[False])))
    prefix = min(rows)[:4]
    keys = sorted(s for s in rows if s.startswith(prefix))
    st, body, _ = get("%s/state/%s?prefix=%s&limit=%d" % (base, NODE, q(prefix), max(1, len(keys) - 1)), token)
    got = [r["key"] for r in body.get("rows", [])] if st == 200 else None
    want = keys[:max(1, len(keys) - 1)]
    ok = got == want and body["truncated"] == (len(keys) > 1) and all(
        diff([r], {max(rows[r["key"]]): rows[r["key"]][max(rows[r["key"]])]}) is None for r in body["rows"])
    res.append((ok, "%s: scan prefix=%s limit=%d: the latest rows of %s (got %s)" % (base, prefix, len(want), want, got)))


def check_dedupe(base, token, raw_path, res):
    """The dedupe store (`once`, keyed by mqtt_id, not the record key: every instance is asked)
    holds, for a few readings, the event time their first copy passed."""
    raws = [json.loads(r["value"]) for r in iot_ref.load(raw_path)]
    for v in raws[:: max(1, len(raws) // 5)][:5]:
        st, body, _ = get("%s/state/once/%s" % (base, urllib.parse.quote(str(v["mqtt_id"]))), token)
        res.append((st == 200 and body == {"key": str(v["mqtt_id"]), "passed_at": v["ts"]},
                    "%s: dedupe key %s passed at %d (got %s %s)" % (base, v["mqtt_id"], v["ts"], st, body)))


def history(sensors, logs, raw_path, token, *urls):
    ranges, rows = reference(sensors, logs, raw_path)
    res = []
    for base in urls:
        check_instance(base, token, ranges, rows, res)
        check_dedupe(base, token, raw_path, res)
    print("# reference: %d sensors, %d rows" % (len(rows), sum(len(r) for r in rows.values())))
    for ok, what in res:
        print("%s - %s" % ("ok" if ok else "not ok", what))
    return all(ok for ok, _ in res)


if __name__ == "__main__":
    if sys.argv[1] == "history":
        sys.exit(0 if history(*sys.argv[2:]) else 1)
    sys.exit(__doc__)
