#!/usr/bin/python3
"""dedupe_ref.py - independent reference for the dedupe crash test (0850): input with
repeats over several partitions, and what `dedupe` (key: id, within: W) must pass.

  gen N PARTITIONS WITHIN_MS IN.tsv EXPECTED.json
        N records "partition<TAB>id<TAB>{"id","t","n"}" (kafka_tool produce --partitioned):
        ids repeat 1 to 4 times within a few seconds of event time in their partition,
        event times out of order by up to 1 s. The rule, per partition in offset order:
        stream time S = max t so far; a record is a repeat when its id passed at t0 and
        S < t0 + WITHIN. EXPECTED.json maps each id to the "n" of the record that passes
        (every id passes exactly once in this data: asserted here).
  gen-spread N PARTITIONS IN.tsv COPIES.json
        N records "partition<TAB>key<TAB>{"id","t","n"}" whose ids repeat 1 to 4 times, each copy
        in a partition of its own choosing and keyed by itself (as a bridge that does not key
        by id writes them), event times within a few seconds; COPIES.json maps each id to the
        "n" of its copies. Prints how many ids have copies in more than one partition (a
        dedupe per input partition lets those through more than once).
  compare-once COPIES.json OUT.jsonl [-q]
        the output of a dedupe with a `within` longer than the data's span: every id out,
        each as one of its copies and only that one (a replay may write it again)
  compare EXPECTED.json OUT.jsonl [-q]
        the output topic against it: every id present, each with exactly the expected
        record (a replay may write the same record again; never another copy of the id);
        prints TAP lines "ok - ..." / "not ok - ..." (-q: none), exits 0 only when exact
"""
import json
import random
import sys


def gen(n, parts, within, src, dst):
    rnd = random.Random(850)
    clock = [1_700_000_000_000] * parts
    pending = [[] for _ in range(parts)]  # per partition: (due, id) repeats still to send
    lines, state = [], [dict() for _ in range(parts)]
    stream = [None] * parts
    expected = {}
    next_id = 0
    for i in range(n):
        p = rnd.randrange(parts)
        clock[p] += rnd.randrange(1, 40)
        if pending[p] and (pending[p][0][0] <= clock[p] or rnd.random() < 0.3):
            _, ident = pending[p].pop(0)
        else:
            ident = "m%07d" % next_id
            next_id += 1
            for k in range(rnd.choice((0, 0, 1, 1, 2, 3))):
                pending[p].append((clock[p] + rnd.randrange(1, 3000), ident))
            pending[p].sort()
        t = clock[p] - rnd.randrange(0, 1000)
        stream[p] = t if stream[p] is None else max(stream[p], t)
        t0 = state[p].get(ident)
        if t0 is None or stream[p] >= t0 + within:
            if ident in expected:
                sys.exit("gen: id %s passes twice; the data must not do that" % ident)
            state[p][ident] = t
            expected[ident] = i
        lines.append("%d\t%s\t%s" % (p, ident, json.dumps({"id": ident, "t": t, "n": i},
                                                           separators=(",", ":"))))
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(dst, "w") as f:
        json.dump(expected, f)
    print("# %d records, %d ids, %d repeats" % (n, len(expected), n - len(expected)))


def gen_spread(n, parts, src, dst):
    rnd = random.Random(854)
    clock = 1_700_000_000_000
    copies, parts_of, lines, pending = {}, {}, [], []
    next_id = 0
    for i in range(n):
        clock += rnd.randrange(1, 5)
        if pending and (pending[0][0] <= clock or rnd.random() < 0.3):
            _, ident = pending.pop(0)
        else:
            ident = "m%07d" % next_id
            next_id += 1
            for _ in range(rnd.choice((0, 0, 1, 1, 2, 3))):
                pending.append((clock + rnd.randrange(1, 3000), ident))
            pending.sort()
        copies.setdefault(ident, []).append(i)
        p = rnd.randrange(parts)
        parts_of.setdefault(ident, set()).add(p)
        lines.append("%d\tk%d\t%s" % (p, i, json.dumps(
            {"id": ident, "t": clock - rnd.randrange(0, 1000), "n": i}, separators=(",", ":"))))
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(dst, "w") as f:
        json.dump(copies, f)
    print("# %d records, %d ids, %d repeats, %d ids with copies in more than one partition" %
          (n, len(copies), n - len(copies), sum(1 for ps in parts_of.values() if len(ps) > 1)))


def read_out(ref_path, out_path):
    """The reference's JSON, the output's "n"s per id, and how many records it holds."""
    with open(ref_path) as f:
        ref = json.load(f)
    seen, records = {}, 0
    with open(out_path) as f:
        for line in f:
            v = json.loads(json.loads(line)["value"])
            records += 1
            seen.setdefault(v["id"], set()).add(v["n"])
    return ref, seen, records


def report(ref, seen, checks, quiet):
    """Prints the checks (after "every id out") as TAP lines unless quiet; True when all hold."""
    missing = [i for i in ref if i not in seen]
    checks = [(not missing, "every id out (%d of %d missing%s)" %
               (len(missing), len(ref), ", e.g. " + missing[0] if missing else ""))] + checks
    if not quiet:
        for good, what in checks:
            print("%s - %s" % ("ok" if good else "not ok", what))
    return all(good for good, _ in checks)


def compare_once(copies_path, out_path, quiet):
    copies, seen, records = read_out(copies_path, out_path)
    twice = [(i, sorted(ns)) for i, ns in seen.items() if len(ns) > 1]
    strange = [(i, sorted(ns)) for i, ns in seen.items() if i not in copies or not ns <= set(copies[i])]
    return report(copies, seen, [
        (not twice, "no id out as two of its copies (%d are%s)" %
         (len(twice), ", e.g. %s: n %s" % twice[0] if twice else "")),
        (not strange, "every record out is a copy of its id (%d are not)" % len(strange)),
        (len(seen) == len(copies), "%d distinct ids out, %d in (%d records read)" %
         (len(seen), len(copies), records)),
    ], quiet)


def compare(exp_path, out_path, quiet):
    expected, seen, records = read_out(exp_path, out_path)
    wrong = [(ident, sorted(ns), expected.get(ident)) for ident, ns in seen.items()
             if ident not in expected or ns != {expected[ident]}]
    return report(expected, seen, [
        (not wrong, "every id out once, as its first record (%d wrong%s)" %
         (len(wrong), ", e.g. %s: got n %s, want %s" % wrong[0] if wrong else "")),
        (len(seen) == len(expected), "%d distinct ids out, %d expected (%d records read)" %
         (len(seen), len(expected), records)),
    ], quiet)


def main():
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6])
    elif sys.argv[1] == "gen-spread":
        gen_spread(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif sys.argv[1] == "compare-once":
        sys.exit(0 if compare_once(sys.argv[2], sys.argv[3], "-q" in sys.argv) else 1)
    elif sys.argv[1] == "compare":
        sys.exit(0 if compare(sys.argv[2], sys.argv[3], "-q" in sys.argv) else 1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
