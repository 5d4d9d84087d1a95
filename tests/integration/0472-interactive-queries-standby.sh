#!/usr/bin/env bash
# 0472-interactive-queries-standby.sh - interactive queries answered from a standby's copy
# (`?stale=ok`; README "Interactive queries", docs/stores.md): three instances a, b, c with
# num_standby_replicas: 1 of a window (tumbling count/sum on the record key, emit: update), the
# same window with group_by (gwin, its tasks those of its repartition topic) and a dedupe (an
# engine-owned key-value store) over 4 partitions, all with --http, so each of a's window and
# dedupe tasks has its one copy on b or on c (gwin's too: the owners of its repartition
# partitions are in the tags, 0883). Once every record is committed and the copies of a's tasks
# have caught up (spate_standby_lag_records 0), tests/ref/iq_stale_ref.py asks b and c about the
# keys of a's partitions with stale=ok: the live owner answers (forwarded, no standby header).
# Then a is killed with SIGKILL and, before the group moves its partitions (session timeout), b
# and c answer the same questions: without stale=ok a 503 with Retry-After; with it from the
# standby copies, saying so (X-Spate-Source: standby, the changelog offset of each copy, a lag of
# 0 records), every window, history, dedupe entry and scan equal to the references (windows_ref.py;
# the first record of each id) - the instance without a partition's copy forwarding to the one
# with it; b asked with a generous max_lag too (the same answers). Then max_lag (README): records
# without a commit's meta appended to the changelogs of a's first partition P, one to dd's and 3
# to win's, put the copies of those tasks exactly that many records behind (a standby applies
# whole commits only; its copy's answers say when it saw the records): a dd id of P, and a scan of
# dd, asked with stale=ok and max_lag=0 is a 503 standby_behind naming partition P and each copy
# at lag 1 (no partial scan), with max_lag=1 the references; a window key of P, and a scan of
# win, the same with max_lag=2 (a 503 naming the copies at lag 3) and max_lag=3 (the references).
# max_lag without stale=ok, or not a number: 400. While a lives, max_lag=0 changes nothing (owners
# answer whatever their copies' lags). Once b and c hold every partition, the same answers come
# from them as owners.
. "$SPATE_ROOT/tests/lib.sh"
REF=$SPATE_ROOT/tests/ref
K=${K_0472:-120}
N=$((K * 20))
ulimit -c 0

$PY "$REF/iq_stale_ref.py" gen "$K" "$N" "$TMP/records.jsonl"
$PY "$REF/window_topics.py" produce-lines "$TMP/records.jsonl" "$TMP/in.tsv"
$PY "$REF/windows_ref.py" --type tumbling --size 3600000 --grace 3600000000 --aggs count,sum \
        <"$TMP/records.jsonl" >"$TMP/windows.jsonl"

topology_header it-0472 >"$TMP/topo.yaml"
cat >>"$TMP/topo.yaml" <<EOF
num_standby_replicas: 1
nodes:
  - name: readings
    type: kafka_source
    topic: it0472.in
    partitions: 4
    time: t
  - name: win
    type: window
    from: readings
    window: tumbling
    size: 1h
    grace: 1000h
    emit: update
    aggregates:
      count: count()
      sum: sum(v)
  - name: gwin
    type: window
    from: readings
    window: tumbling
    size: 1h
    grace: 1000h
    emit: update
    group_by: key
    partitions: 3
    aggregates:
      count: count()
      sum: sum(v)
  - name: gwin_out
    type: kafka_sink
    from: gwin
    topic: it0472.gwin
    compacted: true
    partitions: 2
  - name: win_out
    type: kafka_sink
    from: win
    topic: it0472.win
    compacted: true
    partitions: 2
  - name: dd
    type: dedupe
    from: readings
    key: id
    within: 1000h
  - name: dd_out
    type: kafka_sink
    from: dd
    topic: it0472.dd
    partitions: 2
EOF
start_broker --topology "$TMP/topo.yaml" || { nok "broker starts"; exit 1; }

port=$(free_port 3)
A=http://127.0.0.1:$port B=http://127.0.0.1:$((port + 1)) C=http://127.0.0.1:$((port + 2))
# A session timeout long enough for every question to be asked before the group moves a's
# partitions (the copies answer then), shorter than the 15 s after which a's committer tags go
# stale (then every instance would start a copy of a's tasks).
start() {
        start_spate "$1" "$TMP/topo.yaml" SPATE_HTTP="${2#http://}" SPATE_STATE_DIR="$TMP/state-$1" \
                SPATE_SESSION_TIMEOUT_MS=10000
}
# held [-g] NAME...: the partitions of it0472.in (-g: of gwin's repartition topic) the last
# assignment of each instance NAME gave it, comma-separated.
held() {
        local name topic=it0472.in
        [ "$1" = -g ] && { topic=it-0472-gwin-repartition; shift; }
        for name in "$@"; do
                grep "assigned [0-9]* partitions" "$TMP/spate-$name.log" | tail -1 | grep -o "$topic\[[0-9]\]"
        done | sed -E "s/.*\[([0-9])\]/\1/" | sort -n | paste -sd,
}
spread() { [ -n "$(held a)" ] && [ -n "$(held b)" ] && [ -n "$(held c)" ] && [ "$(held a b c)" = 0,1,2,3 ]; }
start a "$A"
alone() { [ "$(held a)" = 0,1,2,3 ]; }
check "a holds the 4 partitions" wait_for 30 alone
start b "$B"
start c "$C"
check "a, b and c hold the 4 partitions between them" wait_for 60 spread
failed=$(held a) gfailed=$(held -g a)
check "produce $N records of $K keys" $KT produce "$BOOT" it0472.in "$TMP/in.tsv" --partitioned
check "every record committed within 60 s" wait_committed 60 it-0472 it0472.in "$N"
# The copies of a's tasks (b's and c's series of win's and dd's changelogs for a's partitions):
# at least one per task; every copy at lag 0 (gwin's included).
caught_up() {
        { curl -s "$B/metrics"; curl -s "$C/metrics"; } | awk -v want="$failed" '
                /^spate_standby_lag_records\{.*it-0472-/ {
                        s += $NF
                        p = $0; sub(/.*partition="/, "", p); sub(/".*/, "", p)
                        if ($0 !~ /gwin/ && index("," want ",", "," p ",")) n++ }
                END { exit !(n >= 2 * split(want, w, ",") && s == 0) }'
}
check "the copies of a's tasks caught up with its changelogs within 60 s" wait_for 60 caught_up
ask() {  # URL MODE [KEYS] [-q]: the questions about a's keys, asked of URL
        local url=$1 mode=$2 keys=0; shift 2
        [ "${1:-}" != -q ] && [ -n "${1:-}" ] && { keys=$1; shift; }
        $PY "$REF/iq_stale_ref.py" check "$url" "$TMP/windows.jsonl" "$TMP/records.jsonl" "$failed" "$mode" \
                "$keys" "$gfailed:3" "$@"
}
# The checkpoint after the last commit may lag the committed offsets by one commit_interval.
for x in B C; do
        check "with a live owner, ${x,} forwards and a answers (no standby header)" wait_for 30 ask "${!x}" owner -q
        tap_relay "${x,}, owner: " < <(ask "${!x}" owner | grep "^not ok" | head -20)
done
check "with a live owner and max_lag=0, a answers (owners answer whatever the copies' lags)" \
        ask "$C" owner 10 --arg=max_lag=0 -q
tap_relay "c, owner, max_lag=0: " < <(ask "$C" owner 10 --arg=max_lag=0 | grep "^not ok" | head -5)
# status_says URL STATUS TEXT: the answer's status is STATUS and its body holds TEXT.
status_says() {
        local st
        st=$(curl -s -o "$TMP/answer.json" -w '%{http_code}' "$1")
        [ "$st" = "$2" ] && grep -qF "$3" "$TMP/answer.json" || { echo "# $1: $st $(cat "$TMP/answer.json")"; false; }
}
check "max_lag without stale=ok: 400 saying so" status_says "$C/state/win/k0001?max_lag=5" 400 \
        "max_lag=5 goes with stale=ok"
check "max_lag=-1: 400" status_says "$C/state/win/k0001?stale=ok&max_lag=-1" 400 "want a number of changelog records"
check "max_lag=soon: 400" status_says "$C/state?stale=ok&max_lag=soon" 400 "want a number of changelog records"

log_mark b
log_mark c
kill_spate a
ok "killed a (partitions $failed of it0472.in, $gfailed of gwin's repartition topic) with SIGKILL"
moved() { { log_since b; log_since c; } | grep -q "assigned [0-9]* partitions"; }
ask "$C" strict 10 >"$TMP/strict.tap"
check "without stale=ok, c answers about a's keys with 503 and Retry-After ($(grep -c "^ok" "$TMP/strict.tap") checks)" \
        [ "$(grep -c "^not ok" "$TMP/strict.tap")" -eq 0 ]
tap_relay "c, without stale=ok: " < <(grep "^not ok" "$TMP/strict.tap" | head -5)
ask "$C" stale >"$TMP/stale-c.tap"
ask "$B" stale 0 --arg=max_lag=1000000 >"$TMP/stale-b.tap"
early=$(moved && echo "after" || echo "before")
echo "# the stale answers were asked $early the group moved a's partitions"
for x in b c; do
        how="stale=ok"
        [ $x = b ] && how="stale=ok&max_lag=1000000"
        check "with $how, $x's answers about a's keys equal the references ($(grep -c "^ok" "$TMP/stale-$x.tap") checks)" \
                [ "$(grep -c "^not ok" "$TMP/stale-$x.tap")" -eq 0 ]
        tap_relay "$x, with stale=ok: " < <(grep "^not ok" "$TMP/stale-$x.tap" | head -10)
        echo "# $x: $(grep "^# sources" "$TMP/stale-$x.tap")"
done
read -r standby forwarded owner < <(cat "$TMP"/stale-[bc].tap |
        sed -nE 's/^# sources: ([0-9]+) standby \(([0-9]+) forwarded\), ([0-9]+) owner/\1 \2 \3/p' |
        awk '{ s += $1; f += $2; o += $3 } END { print s, f, o }')
check "answers from the copies: $standby" [ "${standby:-0}" -gt 0 ]
# How many of b and c keep a copy of a's partition $1 of it0472.in, by their last standby choice.
followers() {
        local x n=0
        for x in b c; do
                grep "standby: following" "$TMP/spate-$x.log" | tail -1 | grep -qF "it0472.in[$1]" && n=$((n + 1))
        done
        echo $n
}
single=""
for p in ${failed//,/ }; do [ "$(followers "$p")" -eq 1 ] && single="$single $p"; done
if [ -n "$single" ]; then
        check "the copy of a's partition(s)$single is on one instance: the other forwarded $forwarded answers to it" \
                [ "${forwarded:-0}" -gt 0 ]
else
        skip "forwarding to the other instance's copy" "b and c both chose copies of every task of a's"
fi
if [ "$early" = before ]; then
        check "all asked before the group moved a's partitions: none from an owner ($owner)" [ "${owner:-1}" -eq 0 ]
fi
# max_lag: dd's and win's changelogs of a's partition P (their names from the lag metrics of the
# copies); WL records for win's, not dd's 1, so that each store's own lag is seen.
P=${failed%%,*} WL=3
changelog() {
        { curl -s "$B/metrics"; curl -s "$C/metrics"; } |
                sed -nE "s/^spate_standby_lag_records\{topic=\"(it-0472-$1(-[^\"]*)?-changelog)\".*/\1/p" | head -1
}
ddlog=$(changelog dd) winlog=$(changelog win)
printf '%s\t\001zz-not-committed\tx\n' "$P" >"$TMP/uncommitted.tsv"
check "one record without its commit's meta appended to $ddlog[$P]" \
        $KT produce "$BOOT" "$ddlog" "$TMP/uncommitted.tsv" --partitioned
for i in $(seq "$WL"); do printf '%s\t\001zz-not-committed-%s\tx\n' "$P" "$i"; done >"$TMP/uncommitted-win.tsv"
check "$WL records without their commit's meta appended to $winlog[$P]" \
        $KT produce "$BOOT" "$winlog" "$TMP/uncommitted-win.tsv" --partitioned
# copy_lag NODE: the lag every copy of NODE's task P reports once its standby saw those records
# past the copy's checkpoint (asked of each holder for that copy alone, as a forwarding instance
# asks), in $lag: one value, > 0, from as many instances as keep a copy. (The standby's lag metric
# counts records it has read, so it does not show a commit left unfinished.)
copy_lag() {
        local x n=0 l all=""
        for x in B C; do
                l=$(curl -s -D - -o /dev/null "${!x}/state/$1?local=1&stale=ok&partitions=$P&limit=1" | tr -d '\r' |
                        sed -nE "s/^X-Spate-Standby-Lag: $P=([0-9]+)$/\1/p")
                [ -n "$l" ] && { n=$((n + 1)); all="$all $l"; }
        done
        lag=$(printf '%s\n' $all | sort -u)
        [ "$n" -eq "$(followers "$P")" ] && [ "$(printf '%s\n' "$lag" | wc -l)" -eq 1 ] && [ "${lag:-0}" -gt 0 ]
}
# win's copies WL behind (what was appended: they were at 0), dd's by one lag.
lagged() { copy_lag win && wlag=$lag && [ "$wlag" -eq "$WL" ] && copy_lag dd; }
if ! wait_for 30 lagged; then
        nok "the copies of win's and dd's tasks $P report those lags within 30 s"
        echo "# copies of the tasks $P: $(followers "$P"), lags seen: win ${wlag:-none}, last asked ${lag:-none}"
else
        ok "their $(followers "$P") copies report lags of $lag (dd) and $wlag (win) records"
        for x in C B; do
                $PY "$REF/iq_stale_ref.py" behind "${!x}" "$TMP/windows.jsonl" "$TMP/records.jsonl" "$P" "$lag" \
                        "$wlag" "$(followers "$P")" >"$TMP/behind-${x,}.tap"
        done
        if moved; then
                skip "max_lag below the copies' lag: 503" "the group moved a's partitions before the questions were done"
        else
                for x in c b; do
                        check "$x: ids and a scan of dd with max_lag=$((lag - 1)), keys and a scan of win with max_lag=$((wlag - 1)), of partition $P: 503 standby_behind naming its copies (lags $lag, $wlag); with max_lag=$lag, $wlag: the references ($(grep -c "^ok" "$TMP/behind-$x.tap") checks)" \
                                [ "$(grep -c "^not ok" "$TMP/behind-$x.tap")" -eq 0 ]
                        tap_relay "$x, max_lag: " < <(grep "^not ok" "$TMP/behind-$x.tap" | head -20)
                done
        fi
fi
takeover() { [ "$(held b c)" = 0,1,2,3 ] && [ "$(held -g b c)" = 0,1,2 ] && moved; }
check "b and c take a's partitions within 60 s" wait_for 60 takeover
for x in B C; do
        check "then ${x,} answers from the owners" wait_for 30 ask "${!x}" owner -q
        tap_relay "${x,}, after the failover: " < <(ask "${!x}" owner | grep "^not ok" | head -20)
done
check_sigterm b c
