#!/usr/bin/python3
"""iq_groups_ref.py - checks interactive queries (`spate run --http`, /state) of a window with
group_by against windows_ref.py's reference windows (test 0471).

  check NODE REF.jsonl REPART_TOPIC:N SOURCE_TOPIC:N URL=LOG... [-q]
        REF: windows_ref.py's output for the records produced; REPART_TOPIC:N the window's
        repartition topic and its partition count, SOURCE_TOPIC:N the source's; each URL an
        instance asked and LOG its log, whose last "assigned ... partitions:" line says which
        partitions it holds. For every group, through every URL: GET /state/NODE/<group> is the
        reference's last window of the group; its history is every reference window of the
        group, in order (whole, a from/to sub-range with ms and ISO-8601 bounds, and a limit that
        cuts it); the instance that read the state (X-Spate-Served-By) is the holder of the
        group's repartition partition, computed here with Kafka's murmur2 (the Java clients'
        Utils.murmur2, written from its definition). Scans (all groups, a prefix with a limit, a
        start/end range) return the latest window of each group, in key order. A group that
        does not exist answers 404 not_found (and an empty history). With several URLs each
        answers some groups itself and forwards the others; and some groups' partition of the
        source topic differs from their repartition partition (so routing by the source topic
        would ask the wrong task). TAP-like lines; exit 0 when all hold; -q: only the status.
"""
import datetime
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict

from compare_windows import close

MISSING = "no-such-group"


def murmur2(data):
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) as an unsigned 32-bit value."""
    m, h = 0x5bd1e995, (0x9747b28c ^ len(data)) & 0xffffffff
    n4 = len(data) // 4 * 4
    for i in range(0, n4, 4):
        k = (int.from_bytes(data[i:i + 4], "little") * m) & 0xffffffff
        k = ((k ^ (k >> 24)) * m) & 0xffffffff
        h = ((h * m) & 0xffffffff) ^ k
    rest = data[n4:]
    if len(rest) >= 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if rest:
        h = ((h ^ rest[0]) * m) & 0xffffffff
    h = ((h ^ (h >> 13)) * m) & 0xffffffff
    return h ^ (h >> 15)


def partition(key, n):
    """The Java clients' default partitioner for a keyed record: toPositive(murmur2) % n."""
    return (murmur2(key.encode()) & 0x7fffffff) % n


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e), {}


def holdings(log):
    """{topic: set(partitions)} of the last assignment a spate log reports."""
    last = ""
    for line in open(log, errors="replace"):
        if re.search(r"assigned \d+ partitions: ", line):
            last = line.split("partitions: ", 1)[1]
    held = defaultdict(set)
    for topic, p in re.findall(r"(\S+)\[(\d+)\]", last):
        held[topic].add(int(p))
    return held


def diff(got, want):
    """The first difference between answered rows and reference rows, or None."""
    if [(r.get("key"), r.get("window_start")) for r in got] != [(w["key"], w["window_start"]) for w in want]:
        return "windows %s, want %s" % ([(r.get("key"), r.get("window_start")) for r in got][:4],
                                        [(w["key"], w["window_start"]) for w in want][:4])
    for r, w in zip(got, want):
        if set(r) != set(w):
            return "%s@%d: fields %s, want %s" % (w["key"], w["window_start"], sorted(r), sorted(w))
        bad = [f for f in w if not (close(r[f], w[f]) if f in ("sum", "mean") else r[f] == w[f])]
        if bad:
            return "%s@%d %s: got %s, want %s" % (w["key"], w["window_start"], bad[0], r[bad[0]], w[bad[0]])
    return None


def iso(ms):
    t = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def check_group(base, node, group, want, res):
    """A group's value and histories through base; returns the instance that served it."""
    q = urllib.parse.quote
    url = "%s/state/%s/%s" % (base, node, q(group))
    st, body, hdr = get(url)
    d = diff([body], want[-1:]) if st == 200 else "status %d: %s" % (st, body)
    res.append((d is None, "%s: %s's value is its last window (%d)%s" % (base, group, want[-1]["window_start"],
                                                                          "; " + d if d else "")))
    served = hdr.get("X-Spate-Served-By")
    st, body, _ = get(url + "/history")
    d = diff(body["rows"], want) if st == 200 else "status %d: %s" % (st, body)
    d = d or (None if body["truncated"] is False else "truncated")
    res.append((d is None, "%s: %s's history is its %d windows%s" % (base, group, len(want), "; " + d if d else "")))
    lo, hi = want[len(want) // 3]["window_start"], want[2 * len(want) // 3]["window_start"]
    sub = [w for w in want if lo <= w["window_start"] < hi]
    for a, b in ((str(lo), str(hi)), (iso(lo), iso(hi))):
        st, body, _ = get("%s/history?from=%s&to=%s" % (url, q(a), q(b)))
        d = diff(body["rows"], sub) if st == 200 else "status %d: %s" % (st, body)
        res.append((d is None, "%s: %s's history from %s to %s is its %d windows there%s"
                    % (base, group, a, b, len(sub), "; " + d if d else "")))
    st, body, _ = get("%s/history?limit=3" % url)
    d = diff(body["rows"], want[:3]) if st == 200 else "status %d: %s" % (st, body)
    d = d or (None if body["truncated"] == (len(want) > 3) else "truncated %s" % body["truncated"])
    res.append((d is None, "%s: %s's history with limit=3: its first 3 windows%s" % (base, group, "; " + d if d else "")))
    return served


def check_scans(base, node, latest, res):
    groups = sorted(latest)
    cases = [("", groups, False)]
    prefix = "g1"
    with_prefix = [g for g in groups if g.startswith(prefix)]
    cases.append(("?prefix=%s&limit=%d" % (prefix, len(with_prefix) - 1), with_prefix[:-1], True))
    start, end = groups[1], groups[-2]
    cases.append(("?start=%s&end=%s" % (start, end), [g for g in groups if start <= g < end], False))
    for args, keys, truncated in cases:
        st, body, _ = get("%s/state/%s%s" % (base, node, args))
        d = diff(body["rows"], [latest[g] for g in keys]) if st == 200 else "status %d: %s" % (st, body)
        d = d or (None if body["truncated"] == truncated else "truncated %s" % body["truncated"])
        res.append((d is None, "%s: scan '%s': the last window of %d groups%s" % (base, args, len(keys),
                                                                                 "; " + d if d else "")))


def check(node, ref, repart, source, *instances):
    rtopic, rn = repart.rsplit(":", 1)
    stopic, sn = source.rsplit(":", 1)
    rn, sn = int(rn), int(sn)
    want = defaultdict(list)
    for line in open(ref):
        row = json.loads(line)
        if "late" not in row:
            want[row["key"]].append(row)
    urls = dict(i.split("=", 1) for i in instances)
    held = {url: holdings(log) for url, log in urls.items()}
    owner = {}
    for g in want:
        holders = [u for u in urls if partition(g, rn) in held[u][rtopic]]
        owner[g] = holders[0] if len(holders) == 1 else "none of %s" % holders
    res = []
    for base in urls:
        local = 0
        for g in sorted(want):
            served = check_group(base, node, g, want[g], res)
            local += served == base
            res.append((served == owner[g], "%s: %s (repartition partition %d) read by its holder %s (%s)"
                        % (base, g, partition(g, rn), owner[g], served)))
        if len(urls) > 1:
            res.append((0 < local < len(want), "%s answered %d groups itself and forwarded %d"
                        % (base, local, len(want) - local)))
        check_scans(base, node, {g: rows[-1] for g, rows in want.items()}, res)
        st, body, _ = get("%s/state/%s/%s" % (base, node, MISSING))
        res.append((st == 404 and body.get("error") == "not_found",
                    "%s: a group that does not exist: 404 not_found (got %s %s)" % (base, st, body)))
        st, body, _ = get("%s/state/%s/%s/history" % (base, node, MISSING))
        res.append((st == 200 and body["rows"] == [], "%s: its history is empty (got %s %s)" % (base, st, body)))
    moved = [g for g in want if partition(g, sn) != partition(g, rn)]
    res.append((len(moved) > 0, "%d of %d groups are in another partition of %s than of %s (routing by the "
                "source would ask the wrong task)" % (len(moved), len(want), stopic, rtopic)))
    return res


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "-q"]
    if not args or args[0] != "check" or len(args) < 6:
        sys.exit(__doc__)
    results = check(*args[1:])
    if "-q" not in sys.argv:
        print("# %d checks" % len(results))
        for ok, what in results:
            print("%s - %s" % ("ok" if ok else "not ok", what))
    sys.exit(0 if all(ok for ok, _ in results) else 1)
