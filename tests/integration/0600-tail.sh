#!/usr/bin/env bash
# 0600-tail.sh - `spate tail`: the latest value per key of a topic. 2,000 keys written several
# times each (some values not objects, not JSON, with escapes and non-ASCII; some fields missing),
# ~150 keys deleted by a tombstone (some set again after it). Piped: exactly one JSON line per
# live key with its latest value, compared with a Python computation; --sort/--desc/--top;
# --follow prints later changes. In a pseudo-terminal (script): the table, --once and live.
. "$SPATE_ROOT/tests/lib.sh"
start_broker --topic t.tail:4 || { nok "broker starts"; exit 1; }
TOPIC=t.tail

$PY - "$TMP" <<'PY'
import json, random, sys
random.seed(600)
tmp = sys.argv[1]
keys = ["k%04d" % i for i in range(2000)]
hist = {k: [] for k in keys}
for k in keys:
    i = int(k[1:])
    for v in range(random.randint(2, 5)):
        if i % 97 == 5:
            val = "plain text %d, not JSON {" % v          # shown as a string
        elif i % 89 == 7:
            val = json.dumps(i * 10 + v)                    # JSON, not an object
        else:
            o = {"id": k, "version": v, "name": "n\u00e9-%d \"q\" %d" % (i % 50, v)}
            if i % 13:                                       # some values have no score
                o["score"] = round(random.uniform(-100, 100), 3)
            if i % 7 == 0:
                o["nested"] = {"a": [1, 2, {"b": None}], "s": "x\\y"}
            val = json.dumps(o, ensure_ascii=(i % 2 == 0))
        hist[k].append(val)
    if i % 13 == 3:                                          # deleted...
        hist[k].append(None)
        if i % 39 == 16:                                     # ...and set again
            hist[k].append(json.dumps({"id": k, "version": 99, "score": 0.5, "name": "back"}))
# Interleave keys: every key's versions keep their order.
pending = {k: list(v) for k, v in hist.items()}
lines = []
while pending:
    k = random.choice(list(pending))
    v = pending[k].pop(0)
    lines.append("%s\t%s" % (k, "" if v is None else v))
    if not pending[k]:
        del pending[k]
open(tmp + "/in.tsv", "w").write("\n".join(lines) + "\n")
latest = {k: v[-1] for k, v in hist.items() if v[-1] is not None}
json.dump({"latest": latest, "deleted": sorted(k for k, v in hist.items() if v[-1] is None),
           "records": len(lines)}, open(tmp + "/expected.json", "w"))
print("# %d records, %d live keys, %d deleted" % (len(lines), len(latest), 2000 - len(latest)))
PY
$KT produce "$BOOT" $TOPIC "$TMP/in.tsv" --empty-is-null 2>"$TMP/produce.log" && ok "produced the records" || nok "produce ($(cat "$TMP/produce.log"))"

T="$SPATE_BIN tail $TOPIC --bootstrap $BOOT"
timeout 60 $T >"$TMP/all.jsonl" 2>"$TMP/tail.log"; rc=$?
check "piped tail exits 0 once caught up (rc $rc)" [ $rc -eq 0 ]
timeout 60 $T --sort score --desc --top 50 >"$TMP/top.jsonl" 2>>"$TMP/tail.log"
timeout 60 $T --sort score >"$TMP/asc.jsonl" 2>>"$TMP/tail.log"
timeout 60 $T --sort name --top 20 >"$TMP/name.jsonl" 2>>"$TMP/tail.log"
timeout 60 $T --desc --top 5 >"$TMP/keydesc.jsonl" 2>>"$TMP/tail.log"
timeout 60 $T --top 0 >"$TMP/none.jsonl" 2>>"$TMP/tail.log"

$PY - "$TMP" >"$TMP/checks.txt" 2>&1 <<'PY' || nok "the Python checks ran ($(tail -1 "$TMP/checks.txt"))"
import json, sys
tmp = sys.argv[1]
exp = json.load(open(tmp + "/expected.json"))
latest = exp["latest"]

def parsed(v):
    try:
        return json.loads(v)
    except ValueError:
        return v                        # not JSON: tail writes it as a string

def load(name):
    return [json.loads(l) for l in open(tmp + "/" + name)]

def report(cond, what):
    print(("ok " if cond else "not ok ") + what)

rows = load("all.jsonl")
keys = [r["key"] for r in rows]
report(len(rows) == len(latest) and len(set(keys)) == len(keys),
       "one line per live key (%d lines, %d distinct, %d expected)" % (len(rows), len(set(keys)), len(latest)))
wrong = [r["key"] for r in rows if r["key"] not in latest or r["value"] != parsed(latest[r["key"]])]
report(not wrong, "every line holds its key's latest value (%d wrong, e.g. %s)" % (len(wrong), wrong[:3]))
dead = [k for k in exp["deleted"] if k in set(keys)]
report(not dead and len(exp["deleted"]) > 100, "the %d tombstoned keys are absent (%d present)" % (len(exp["deleted"]), len(dead)))
report("k0016" in latest and "k0016" in keys, "a key set again after its tombstone is present")
report(keys == sorted(latest, key=lambda k: k.encode()), "default order: by key")
report(any(isinstance(r["value"], str) for r in rows) and any(isinstance(r["value"], int) for r in rows),
       "values that are not objects (text, numbers) come through")

def order(field, desc):
    def sk(k):
        v = parsed(latest[k])
        f = v.get(field) if isinstance(v, dict) else None
        return f
    present = [k for k in latest if isinstance(sk(k), (int, float, str))]
    missing = sorted((k for k in latest if k not in set(present)), key=lambda k: k.encode())
    nums = sorted((k for k in present if isinstance(sk(k), (int, float))), key=lambda k: (sk(k), k.encode()))
    strs = sorted((k for k in present if isinstance(sk(k), str)), key=lambda k: (sk(k).encode(), k.encode()))
    if desc:   # values descending (strings before numbers), ties still by key ascending
        nums = sorted(sorted(nums, key=lambda k: k.encode()), key=sk, reverse=True)
        strs = sorted(sorted(strs, key=lambda k: k.encode()), key=lambda k: sk(k).encode(), reverse=True)
        return strs + nums + missing
    return nums + strs + missing

top = [r["key"] for r in load("top.jsonl")]
report(len(top) == 50, "--top 50 prints 50 lines (%d)" % len(top))
report(top == order("score", True)[:50], "--sort score --desc: highest scores first")
asc = [r["key"] for r in load("asc.jsonl")]
report(asc == order("score", False), "--sort score: numeric ascending, values without a score last (%d rows)" % len(asc))
scores = [parsed(latest[k]).get("score") if isinstance(parsed(latest[k]), dict) else None for k in asc]
report(all(isinstance(s, (int, float)) for s in scores[:10]) and scores[-1] is None, "numbers first, missing last")
names = [r["key"] for r in load("name.jsonl")]
report(names == order("name", False)[:20], "--sort name: strings by bytes (%d rows)" % len(names))
kd = [r["key"] for r in load("keydesc.jsonl")]
report(kd == sorted(latest, key=lambda k: k.encode(), reverse=True)[:5], "--desc alone: keys descending")
report(load("none.jsonl") == [], "--top 0: nothing")
PY
while read -r line; do case $line in ok*) ok "${line#ok }";; "not ok"*) nok "${line#not ok }";; esac; done <"$TMP/checks.txt"

# --follow: the snapshot, then each later change as it arrives (a tombstone as value null).
timeout 60 $T --follow >"$TMP/follow.jsonl" 2>>"$TMP/tail.log" &
fpid=$!
_pids+=($fpid)
nlive=$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["latest"]))' "$TMP/expected.json")
wait_for 30 bash -c "[ \$(wc -l <'$TMP/follow.jsonl') -ge $nlive ]"
printf 'k0001\t{"id":"k0001","score":1e6,"name":"late"}\nk0002\t\nnewkey\t{"fresh":true}\n' >"$TMP/more.tsv"
$KT produce "$BOOT" $TOPIC "$TMP/more.tsv" --empty-is-null 2>>"$TMP/produce.log"
check "--follow prints later values" wait_for 20 grep -q '"key": "newkey", "value": {"fresh":true}' "$TMP/follow.jsonl"
check "--follow prints a tombstone as value null" grep -q '"key": "k0002", "value": null' "$TMP/follow.jsonl"
check "--follow printed the snapshot first ($nlive lines)" bash -c "head -$nlive '$TMP/follow.jsonl' | grep -vc '\"late\"\\|newkey' | grep -qx $nlive"
kill -INT $fpid 2>/dev/null; wait $fpid; rc=$?
check "--follow exits 0 on SIGINT (rc $rc)" [ $rc -eq 0 ]
timeout 60 $T --sort score --desc --top 1 >"$TMP/after.jsonl" 2>>"$TMP/tail.log"
check "a later value takes the top of --sort score --desc" grep -q '"key": "k0001".*"late"' "$TMP/after.jsonl"

# Table mode in a pseudo-terminal. COLUMNS/LINES size it when the pty reports no size.
export COLUMNS=120 LINES=20
script -qc "$T --once --sort score --desc --fields name,score,version" /dev/null >"$TMP/table.txt" 2>&1 </dev/null
rc=$?
sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$TMP/table.txt" | tr -d '\r' >"$TMP/table.plain"
check "--once in a terminal exits 0 (rc $rc)" [ $rc -eq 0 ]
keys=$nlive  # k0002 deleted, newkey added
check "table header: topic, $keys keys, records, order" grep -qE "^t\.tail  $keys keys  [0-9]+ records  by score desc  [0-9:]{8}" "$TMP/table.plain"
check "table column header: key name score version" grep -qE '^key +name +score +version' "$TMP/table.plain"
check "table first row: k0001, late, 1e6" bash -c "sed -n 3p '$TMP/table.plain' | grep -qE '^k0001 +late +1e6 +'"
n=$(wc -l <"$TMP/table.plain")
check "table fits LINES=20 ($n lines)" [ "$n" -le 20 -a "$n" -ge 18 ]
check "table uses bold/reverse video, no alternate screen with --once" bash -c "grep -q $'\x1b\\[7m' '$TMP/table.txt' && ! grep -q $'\x1b\\[?1049h' '$TMP/table.txt'"
check "non-ASCII text shows decoded" grep -q 'né-' "$TMP/table.plain"

script -qc "$T --once --top 3" /dev/null >"$TMP/table2.txt" 2>&1 </dev/null
sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$TMP/table2.txt" | tr -d '\r' >"$TMP/table2.plain"
check "default columns are the values' fields; --top 3 shows 3 rows" bash -c "sed -n 2p '$TMP/table2.plain' | grep -E '^key ' | grep -E ' id ' | grep -qE ' version ' && [ \$(wc -l <'$TMP/table2.plain') -eq 5 ]"

# Live: repaints in place on the alternate screen; SIGINT restores the screen and exits 0.
script -qec "timeout --preserve-status -s INT 2.5 $T --interval 300ms --sort score --desc" /dev/null >"$TMP/live.txt" 2>&1 </dev/null
rc=$?
check "live table: Ctrl-C exits 0 (rc $rc)" [ $rc -eq 0 ]
check "live table: alternate screen entered and left, cursor restored" bash -c "grep -q $'\x1b\\[?1049h' '$TMP/live.txt' && grep -q $'\x1b\\[?25h\x1b\\[?1049l' '$TMP/live.txt'"
frames=$(grep -o $'\x1b\\[H' "$TMP/live.txt" | wc -l)
check "live table: repainted in place (home + clear), $frames frames in 2.5 s" [ "$frames" -ge 4 ]
