#!/usr/bin/env bash
# 0040-winlayout.sh - the tools of bench/winlayout.sh: kafka_tool.py dump copies a changelog byte
# for byte (records produced to a broker, dumped, read back), and bench/winlayout.py's counts of
# both layouts on a hand-made window changelog equal the ones worked out by hand below.
. "$SPATE_ROOT/tests/lib.sh"
start_broker --topic it0040-w-changelog:2 --topic it0040.other:1 || exit 1
printf '0\tk1\tv1\n1\tk2\tvalue two\n0\tk3\t\n' >"$TMP/in.tsv"
$KT produce "$BOOT" it0040-w-changelog "$TMP/in.tsv" --partitioned --empty-is-null >/dev/null 2>&1
$KT produce "$BOOT" it0040.other "$TMP/in.tsv" --partitioned >/dev/null 2>&1
$KT dump "$BOOT" -changelog "$TMP/dump"
check "dump copies only the topics whose name ends in the suffix" [ "$(ls "$TMP/dump")" = it0040-w-changelog.bin ]
read_back() {
        $PY - "$TMP/dump/it0040-w-changelog.bin" <<'PY'
import struct, sys
d, i = open(sys.argv[1], "rb").read(), 0
def field():
    global i
    (n,) = struct.unpack_from(">I", d, i); i += 4
    if n == 0xffffffff:
        return "null"
    b = d[i:i + n]; i += n
    return b.decode()
while i < len(d):
    p, o = struct.unpack_from(">IQ", d, i); i += 12
    print(p, o, field(), field())
PY
}
check "each record comes back with its partition, offset, key and value, a null value as null" \
      [ "$(read_back | tr '\n' ';')" = "0 0 k1 v1;0 1 k3 null;1 0 k2 value two;" ]

# A window changelog by hand: partition 0, commit 1 writes (a, 0) 10 bytes, (a, 60000) 20 bytes,
# the bucket (b, 0) 5 bytes; commit 2 deletes (a, 0) and holds a foreign record; then a record
# no meta closes (cut). Window keys: 4 bytes of length, the group, 8 bytes of start (13 for "a",
# 14 with the bucket's 'B'). Entry layout: 3 + 1 records, (13+10)+(13+20)+(14+5) + 13 = 88 bytes.
# Group layout: commit 1 writes a (5 + (13+10) + (13+20) = 61) and b (5 + 13+5 = 23), commit 2
# a again (5 + 13+20 = 38): 3 records, 122 bytes (1.39x, 0.75x); the widest group held 2.
$PY - "$TMP/w.bin" "$TMP/foreign.bin" <<'PY'
import struct, sys
def rec(key, value):
    f = lambda b: struct.pack(">I", 0xffffffff) if b is None else struct.pack(">I", len(b)) + b
    return struct.pack(">IQ", 0, 0) + f(key) + f(value)
def wk(g, start, bucket=False):
    return struct.pack(">I", len(g)) + g + struct.pack(">q", start) + (b"B" if bucket else b"")
meta = rec(b"meta", b"m" * 7)
open(sys.argv[1], "wb").write(
    rec(wk(b"a", 0), b"x" * 10) + rec(wk(b"a", 60000), b"y" * 20) + rec(wk(b"b", 0, True), b"z" * 5) + meta +
    rec(wk(b"a", 0), None) + rec(b"x", b"{}") + meta + rec(wk(b"b", 0, True), b"zzz"))
open(sys.argv[2], "wb").write(rec(b"k1", b"v1") + rec(b"k2", b"v2"))
PY
$PY "$SPATE_ROOT/bench/winlayout.py" "$TMP/w.bin" "$TMP/foreign.bin" >"$TMP/layout.out"
sed 's/^/# /' "$TMP/layout.out"
fields() { awk -v f="$1" '$1 ~ f {$1 = ""; print substr($0, 2)}' "$TMP/layout.out"; }
check "winlayout.py: 2 commits, 4 entry records of 88 bytes, 3 group records of 122 bytes, the foreign and the cut record apart" \
      [ "$(fields '/w$')" = "2 4 88 3 122 1.39x 0.75x 2 (1 foreign, 1 cut)" ]
check "winlayout.py skips a changelog of no window entries" grep -qE "/foreign +skipped: 2 of its records" "$TMP/layout.out"
