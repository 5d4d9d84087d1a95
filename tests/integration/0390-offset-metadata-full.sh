#!/usr/bin/env bash
# 0390-offset-metadata-full.sh - node values that do not fit in the offset
# metadata spate commits (here nine grouped windows with 217-character names:
# their times and batch cuts need ~2.1 KB of the 2,047 bytes) stop spate with
# an error naming the partition, the node and the fix, and nothing is
# committed past them, so the input is replayed rather than its cuts lost
# (before, spate exited 0 and committed every offset without the metadata).
# The same topology with short names runs and commits everything.
. "$SPATE_ROOT/tests/lib.sh"
topology() {  # file, name suffix length
        topology_header "it-0390-$2" 'state_dir: ${STATE_DIR:-state}' >"$1"
        $PY - "$2" >>"$1" <<'PY'
import sys
names = ["w%d%s" % (i, "x" * int(sys.argv[1])) for i in range(9)]
y = """nodes:
  - name: records
    type: kafka_source
    topic: it0390.in
    partitions: 1
    time: t
"""
for n in names:
    y += """  - name: %s
    type: window
    from: records
    window: tumbling
    size: 1s
    group_by: k
    partitions: 1
    aggregates:
      n: count()
""" % n
y += """  - name: out
    type: kafka_sink
    from: %s
    topic: it0390.out
    partitions: 1
""" % names[0]
sys.stdout.write(y)
PY
}
topology "$TMP/long.yaml" 215
topology "$TMP/short.yaml" 0
start_broker --topology "$TMP/long.yaml" --topology "$TMP/short.yaml" || { nok "broker starts"; exit 1; }
$PY -c '
import json
for i in range(200):
    print("k%d\t%s" % (i % 3, json.dumps({"t": 1764626400000 + i * 100, "k": "k%d" % (i % 3)})))' >"$TMP/in.tsv"
check "produce 200 records" $KT produce "$BOOT" it0390.in "$TMP/in.tsv"

STATE_DIR=$TMP/state-long "$SPATE_BIN" run "$TMP/long.yaml" --until-idle 5s 2>"$TMP/spate-long.log"; rc=$?
check "long node names: exit 1 (rc $rc)" [ "$rc" -eq 1 ]
check "the error names the partition, the limit, the node and the fix" grep -q \
        "it0390.in\[0\]: the partition times and cuts of its nodes do not fit in the 2047 bytes of offset metadata spate commits (node 'w8x*' and after); committing nothing rather than losing them: give the nodes that keep times (windows) shorter names" \
        "$TMP/spate-long.log"
off=$($KT committed "$BOOT" it-0390-215 it0390.in | awk '$1 == 0 {print $2}')
check "nothing past the records whose cuts did not fit is committed (offset $off of 200)" [ "${off:-x}" -lt 200 ]

STATE_DIR=$TMP/state-short "$SPATE_BIN" run "$TMP/short.yaml" --until-idle 5s 2>"$TMP/spate-short.log"; rc=$?
check "short node names: exit 0 (rc $rc)" [ "$rc" -eq 0 ]
off=$($KT committed "$BOOT" it-0390-0 it0390.in | awk '$1 == 0 {print $2}')
check "and every offset is committed ($off)" [ "$off" = 200 ]
check "no metadata error or warning" bash -c "! grep -q 'offset metadata\|malformed entries' '$TMP/spate-short.log'"
