#!/usr/bin/python3
"""iq_stale_ref.py - checks stale interactive queries (`/state/...?stale=ok`, answers from a
standby's copy) of a window `win` on the record key and a dedupe `dd` on the field id against
independent references (test 0472).

  gen K N RECORDS.jsonl
        N records {"key","id","t","v","p","o"} of K keys over 4 partitions, each key in the
        partition Kafka's default partitioner gives it (murmur2, so that the window's queries,
        routed by the key, find it there); ids "<key>-<0..2>" repeat within their key's
        partition; event times over 3 hours.
  check BASE WINDOWS.jsonl RECORDS.jsonl PARTS MODE [KEYS [GPARTS:N]] [--arg=NAME=VALUE...] [-q]
        For every key in the partitions PARTS (comma-separated): through BASE, GET
        /state/win/<key> is the reference's last window of the key (windows_ref.py's output),
        its /history every window of the key, and GET /state/dd/<id> of each of its ids the
        event time of the id's first record (dedupe with a `within` longer than the data passes
        each id once: its first record in offset order); then a scan of /state/win holds the
        last window of every key (KEYS: only the first KEYS keys are asked about; 0: all). With
        GPARTS:N, the same value and history of /state/gwin/<key> (a window with group_by: key,
        the same windows) for every key in the partitions GPARTS of its repartition topic of N
        partitions (where the repartition node places it: murmur2, as partition() computes).
        MODE:
          stale:  asked with stale=ok; every answer equals the reference, and one that says it
                  came from a standby (X-Spate-Source: standby) names its partition's changelog
                  offset (X-Spate-Standby-Offsets) and a lag of 0 records (X-Spate-Standby-Lag:
                  the copy caught up before the owner died); at least one did (the owner is dead,
                  so the answers before the survivor takes its partitions come from the copy).
                  The last line counts the answers: "# sources: S standby (F forwarded), O owner",
                  F those read by another instance than BASE (X-Spate-Served-By).
          owner:  asked with stale=ok while the owner lives: every answer equals the reference
                  and none came from a standby (a live owner answers).
          strict: asked without stale=ok: every answer is a 503 with Retry-After (the owner is
                  dead, the survivor does not hold the partitions yet).
        --arg=NAME=VALUE: added to every question (max_lag=N: the answers must not change while
        the copies are within N records).
        TAP-like lines; exit 0 when all hold; -q: only the status.
  behind BASE WINDOWS.jsonl RECORDS.jsonl P LAG WLAG COPIES [-q]
        The copies of dd's task of partition P are LAG records (> 0) behind its changelog, those
        of win's task of P WLAG records (> 0, another number, so that each store's own lag is
        seen), COPIES of each, and the owner is dead: for the first 3 keys of P, through BASE,
        GET /state/dd/<id>?stale=ok&max_lag=LAG-1 of each id, and a scan of dd, is a 503
        standby_behind with Retry-After naming only partition P of it0472.in, its COPIES copies
        (each instance once), each at lag LAG (no partial scan); with max_lag=LAG the id's first
        event time, and the scan every id's, from a standby (X-Spate-Standby-Lag P=LAG). The
        same for the window: GET /state/win/<key>, and a scan of win, with max_lag=WLAG-1 a 503
        naming P's copies at lag WLAG; with max_lag=WLAG the key's last window, and the scan
        every key's, from a copy at lag WLAG.
"""
import json
import random
import sys
import urllib.parse

from compare_windows import close
from iq_groups_ref import get, partition

PARTS = 4


def gen(k, n, path):
    rnd = random.Random(472)
    offsets = [0] * PARTS
    with open(path, "w") as f:
        for _ in range(n):
            key = "k%04d" % rnd.randrange(k)
            p = partition(key, PARTS)
            f.write(json.dumps({"key": key, "id": "%s-%d" % (key, rnd.randrange(3)),
                                "t": 1700000000000 + rnd.randrange(3 * 3600000), "v": rnd.randrange(1000),
                                "p": p, "o": offsets[p]}) + "\n")
            offsets[p] += 1


def same_window(got, want):
    if set(got) != set(want):
        return "fields %s, want %s" % (sorted(got), sorted(want))
    bad = [f for f in want if not (close(got[f], want[f]) if f in ("sum", "mean") else got[f] == want[f])]
    return "%s: got %s, want %s" % (bad[0], got[bad[0]], want[bad[0]]) if bad else None


def same_windows(got, want):
    if [(r.get("key"), r.get("window_start")) for r in got] != [(w["key"], w["window_start"]) for w in want]:
        return "windows %s, want %s" % ([(r.get("key"), r.get("window_start")) for r in got][:3],
                                        [(w["key"], w["window_start"]) for w in want][:3])
    return next((d for d in (same_window(r, w) for r, w in zip(got, want)) if d), None)


class Checker:
    def __init__(self, base, mode, extra=()):
        self.base, self.mode, self.res, self.extra = base, mode, [], "".join("&" + a for a in extra)
        self.sources = {"standby": 0, "owner": 0, "forwarded": 0}
        self.lag = 0

    def ask(self, path, p, compare):
        """One question about partition p: compare(body) says how the body differs (None: equal)."""
        url = self.base + path + ("" if self.mode == "strict" else ("&" if "?" in path else "?") + "stale=ok")
        url += self.extra
        st, body, hdr = get(url)
        if self.mode == "strict":
            ok = st == 503 and hdr.get("Retry-After") == "1"
            self.res.append((ok, "%s: 503 with Retry-After (got %s %s)" % (path, st, body)))
            return
        d = compare(body) if st == 200 else "status %s: %s" % (st, body)
        source = "standby" if hdr.get("X-Spate-Source") == "standby" else "owner"
        self.sources[source] += 1
        if source == "standby":
            self.sources["forwarded"] += hdr.get("X-Spate-Served-By") != self.base
            offsets = dict(i.split("=") for i in hdr.get("X-Spate-Standby-Offsets", "").split(",") if "=" in i)
            lags = dict(i.split("=") for i in hdr.get("X-Spate-Standby-Lag", "").split(",") if "=" in i)
            if not offsets.get(str(p), "").isdigit() or int(offsets[str(p)]) <= 0:
                d = d or "no changelog offset of partition %d in X-Spate-Standby-Offsets: %s" % (
                    p, hdr.get("X-Spate-Standby-Offsets"))
            if lags.get(str(p)) != str(self.lag):
                d = d or "X-Spate-Standby-Lag %s, want %d=%d" % (hdr.get("X-Spate-Standby-Lag"), p, self.lag)
            if self.mode == "owner":
                d = d or "answered from a standby while the owner lives"
        self.res.append((d is None, "%s (%s)%s" % (path, source, ": " + d if d else "")))


def load(windows, records):
    """The reference's windows of each key, each id's first event time, each key's partition."""
    want, first, where = {}, {}, {}
    for line in open(windows):
        row = json.loads(line)
        if "late" not in row:
            want.setdefault(row["key"], []).append(row)
    for line in open(records):
        r = json.loads(line)
        where[r["key"]] = r["p"]
        first.setdefault(r["id"], r["t"])
    return want, first, where


def too_far(c, paths, p, lag, copies):
    """Each of paths (asked of c.base) is a 503 standby_behind naming partition p and its copies,
    every one at lag."""
    for path in paths:
        st, body, hdr = get(c.base + path)
        entries = body.get("behind", []) if isinstance(body, dict) else []
        instances = [e.get("instance") for e in entries]
        ok = (st == 503 and hdr.get("Retry-After") == "1" and body.get("error") == "standby_behind" and
              body.get("max_lag") == lag - 1 and len(entries) == copies and
              len(set(instances)) == copies and None not in instances and
              all(e.get("topic") == "it0472.in" and e.get("partition") == p and e.get("lag") == lag
                  for e in entries) and
              "partition %d of it0472.in" % p in body.get("reason", ""))
        c.res.append((ok, "%s: 503 standby_behind naming partition %d, %d copies at lag %d (got %s %s)" %
                      (path, p, copies, lag, st, body)))


def behind(base, windows, records, p, lag, wlag, copies):
    p, lag, wlag, copies = int(p), int(lag), int(wlag), int(copies)
    want, first, where = load(windows, records)
    c = Checker(base, "stale", ["max_lag=%d" % lag])
    c.lag = lag
    q = urllib.parse.quote
    keys = sorted(k for k in want if where[k] == p)[:3]
    idents = [i for key in keys for i in sorted(i for i in first if i.rsplit("-", 1)[0] == key)]
    too_far(c, ["/state/dd/%s?stale=ok&max_lag=%d" % (q(i), lag - 1) for i in idents] +
            ["/state/dd?stale=ok&limit=100000&max_lag=%d" % (lag - 1)], p, lag, copies)
    for ident in idents:
        c.ask("/state/dd/%s" % q(ident), p,
              lambda b, i=ident: None if b == {"key": i, "passed_at": first[i]} else
              "%s, want passed_at %d" % (b, first[i]))
    every = [{"key": i, "passed_at": first[i]} for i in sorted(first)]
    c.ask("/state/dd?limit=100000", p,
          lambda b: None if b["rows"] == every and not b["truncated"] else
          "%d rows, want %d: %s" % (len(b["rows"]), len(every), [r for r in b["rows"] if r not in every][:3]))
    too_far(c, ["/state/win/%s?stale=ok&max_lag=%d" % (q(k), wlag - 1) for k in keys] +
            ["/state/win?stale=ok&limit=100000&max_lag=%d" % (wlag - 1)], p, wlag, copies)
    c.lag, c.extra = wlag, "&max_lag=%d" % wlag
    for key in keys:
        c.ask("/state/win/%s" % q(key), p, lambda b, w=want[key][-1]: same_window(b, w))
    latest = [want[k][-1] for k in sorted(want)]
    c.ask("/state/win?limit=100000", p, lambda b: same_windows(b["rows"], latest))
    c.res.append((len(keys) == 3 and c.sources["owner"] == 0,
                  "%d keys of partition %d, %d answers from a standby, %d from an owner" %
                  (len(keys), p, c.sources["standby"], c.sources["owner"])))
    return c.res, c.sources


def check(base, windows, records, parts, mode, nkeys="0", group=None, extra=()):
    parts = {int(p) for p in parts.split(",")}
    want, first, where = load(windows, records)
    c = Checker(base, mode, extra)
    q = urllib.parse.quote
    keys = sorted(k for k in want if where[k] in parts)[:int(nkeys) or None]
    for key in keys:
        rows, p = want[key], where[key]
        c.ask("/state/win/%s" % q(key), p, lambda b, w=rows[-1]: same_window(b, w))
        c.ask("/state/win/%s/history" % q(key), p, lambda b, w=rows: same_windows(b["rows"], w))
        for ident in sorted(i for i in first if i.rsplit("-", 1)[0] == key):
            c.ask("/state/dd/%s" % q(ident), p,
                  lambda b, i=ident: None if b == {"key": i, "passed_at": first[i]} else
                  "%s, want passed_at %d" % (b, first[i]))
    if group:
        gparts, n = group.split(":")
        gparts, n = {int(p) for p in gparts.split(",")}, int(n)
        gkeys = sorted(k for k in want if partition(k, n) in gparts)[:int(nkeys) or None]
        for key in gkeys:
            rows, p = want[key], partition(key, n)
            c.ask("/state/gwin/%s" % q(key), p, lambda b, w=rows[-1]: same_window(b, w))
            c.ask("/state/gwin/%s/history" % q(key), p, lambda b, w=rows: same_windows(b["rows"], w))
        res_g = (len(gkeys) > 0, "%d keys of gwin in partitions %s of its repartition topic"
                 % (len(gkeys), sorted(gparts)))
    latest = [want[k][-1] for k in sorted(want)]
    c.ask("/state/win?limit=100000", min(parts), lambda b: same_windows(b["rows"], latest))
    res = c.res
    res.append((len(keys) > 0, "%d keys in partitions %s" % (len(keys), sorted(parts))))
    if group:
        res.append(res_g)
    if mode == "stale":
        res.append((c.sources["standby"] > 0, "%d answers from a standby's copy, %d from an owner"
                    % (c.sources["standby"], c.sources["owner"])))
    return res, c.sources


if __name__ == "__main__":
    extra = [a[6:] for a in sys.argv[1:] if a.startswith("--arg=")]
    args = [a for a in sys.argv[1:] if a != "-q" and not a.startswith("--arg=")]
    if args[:1] == ["gen"] and len(args) == 4:
        gen(int(args[1]), int(args[2]), args[3])
        sys.exit(0)
    if args[:1] == ["behind"] and len(args) == 8:
        results, sources = behind(*args[1:])
    elif args[:1] == ["check"] and len(args) in (6, 7, 8) and args[5] in ("stale", "owner", "strict"):
        results, sources = check(*args[1:], extra=extra)
    else:
        sys.exit(__doc__)
    if "-q" not in sys.argv:
        for ok, what in results:
            print("%s - %s" % ("ok" if ok else "not ok", what))
        print("# sources: %d standby (%d forwarded), %d owner" % (sources["standby"], sources["forwarded"],
                                                                   sources["owner"]))
    sys.exit(0 if all(ok for ok, _ in results) else 1)
