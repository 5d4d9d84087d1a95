#!/usr/bin/env bash
# 0302-archive-raw.sh - an archive of a raw topic holds every message, parseable or not: a
# kafka_source of `format: raw` decodes nothing, so the malformed readings that a JSON source
# dead-letters (0730) are archived too, byte for byte, at their Kafka timestamp
# (tests/ref/archive_ref.py --raw); and `format: raw` with `time:` fails at load.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref/archive_ref.py
cat >"$TMP/topo.yaml" <<YAML
application: it-0302
kafka:
  bootstrap.servers: \${SPATE_BOOTSTRAP:-127.0.0.1:9092}
settings:
  commit_interval: 200ms
nodes:
  - name: raw
    type: kafka_source
    topic: it0302.in
    format: raw
    partitions: 4
  - name: archive
    type: archive_sink
    from: raw
    dir: $TMP/archive
    roll_interval: 1s
YAML
$PY "$REF" gen 3000 11 "$TMP/in.tsv"
bad=$(grep -c 'not json' "$TMP/in.tsv")
start_broker --topic it0302.in:4 --topic it-0302-dlq:1 || { nok "broker starts"; exit 1; }
check "produce 3000 readings, $bad of them malformed" $KT produce "$BOOT" it0302.in "$TMP/in.tsv" --partitioned
"$SPATE_BIN" run "$TMP/topo.yaml" --until-idle 3s 2>"$TMP/spate.log"; rc=$?
check "the archive runs to the end of its input (rc $rc)" [ "$rc" -eq 0 ]
while read -r status rest; do
        if [ "$status" = ok ]; then ok "${rest#- }"; else nok "${rest#*- }"; fi
done < <($PY "$REF" compare "$BOOT" it0302.in it-0302-dlq "$TMP/archive" --final --raw)

sed 's/^    format: raw$/    format: raw\n    time: t/' "$TMP/topo.yaml" >"$TMP/timed.yaml"
"$SPATE_BIN" check "$TMP/timed.yaml" 2>"$TMP/check.log"; rc=$?
check "format: raw with time: fails at load (rc $rc)" [ "$rc" -ne 0 ]
check "naming the line and why" grep -q "timed.yaml:1[0-9]:.*format: raw decodes no fields, so 'time:' cannot be used" \
        "$TMP/check.log"
