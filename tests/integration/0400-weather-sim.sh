#!/usr/bin/env bash
# 0400-weather-sim.sh - runs `spate weather-sim` on loopback and checks the One Call API, keys,
# rate limits, injected faults, the request log, /stats and simulated time, the Current Weather
# API; also `gen-coords`.
set -u
: "${SPATE_BIN:?}"
# The pyenv shim costs ~0.3 s per call; Debian's interpreter is what the Makefile uses too.
PY=${PY:-/usr/bin/python3}; [ -x "$PY" ] || PY=python3
tmp=$(mktemp -d /tmp/spate-0400.XXXXXX)
pids=()
n=0 failed=0

cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

ok() {  # cond-status, message
        n=$((n + 1))
        if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
check() {  # message, command...
        local msg=$1; shift
        "$@" >/dev/null 2>&1
        ok $? "$msg"
}

# start_sim NAME ARGS... : starts weather-sim on a random free high port (retrying when the
# port is taken) and sets URL_<NAME> and PID_<NAME>.
start_sim() {
        local name=$1; shift
        for _ in 1 2 3 4 5 6 7 8; do
                local port=$((20000 + RANDOM % 40000))
                "$SPATE_BIN" weather-sim --listen "127.0.0.1:$port" "$@" \
                        >"$tmp/$name.out" 2>"$tmp/$name.err" &
                local pid=$!
                for _ in $(seq 1 50); do
                        if [ -s "$tmp/$name.out" ]; then
                                pids+=("$pid")
                                printf -v "URL_$name" '%s' "$(head -1 "$tmp/$name.out")"
                                printf -v "PID_$name" '%s' "$pid"
                                return 0
                        fi
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.05
                done
                kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        done
        echo "# could not start weather-sim $*"; cat "$tmp/$name.err"
        return 1
}

# fetch NAME URL [curl args...]: body to $tmp/NAME.body, headers to $tmp/NAME.hdr, prints status.
fetch() {
        local name=$1 url=$2; shift 2
        curl -s -o "$tmp/$name.body" -D "$tmp/$name.hdr" -w '%{http_code}' "$@" "$url"
}

# ---------------------------------------------------------------------------- gen-coords
"$SPATE_BIN" gen-coords --bbox 41.3,-5.2,51.1,9.6 --bbox 50.7,3.3,53.6,7.3 --count 20000 \
        --out "$tmp/coords.csv"
ok $? "gen-coords exits 0"
check "gen-coords writes exactly 20000 rows, header id,name,lat,lon, unique ids, all inside a bbox" \
        $PY - "$tmp/coords.csv" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0] == ["id", "name", "lat", "lon"], rows[0]
body = rows[1:]
assert len(body) == 20000, len(body)
assert len({r[0] for r in body}) == 20000
assert body[0][0] == "c000001" and body[-1][0] == "c020000"
boxes = [(41.3, -5.2, 51.1, 9.6), (50.7, 3.3, 53.6, 7.3)]
for r in body:
    lat, lon = float(r[2]), float(r[3])
    assert len(r[2].split(".")[1]) == 4 and len(r[3].split(".")[1]) == 4, r
    assert any(a <= lat <= c and b <= lon <= d for a, b, c, d in boxes), r
EOF
"$SPATE_BIN" gen-coords --bbox 0,0,1,2 --count 7 --prefix p >"$tmp/small.csv"
check "gen-coords --count 7 to stdout with --prefix" \
        test "$(wc -l <"$tmp/small.csv")" -eq 8 -a "$(sed -n 2p "$tmp/small.csv" | cut -d, -f1)" = p000001
places=$SPATE_ROOT/topology/places/fr_nl_cities.csv
"$SPATE_BIN" gen-coords --bbox 41.3,-5.2,51.1,9.6 --bbox 50.7,3.3,53.6,7.3 --count 3000 \
        --places "$places" --out "$tmp/named.csv"
check "gen-coords --places: 3000 points named after their nearest place, distance and direction (independent recomputation)" \
        $PY - "$tmp/named.csv" "$places" <<'EOF'
import csv, math, re, sys
named = list(csv.DictReader(open(sys.argv[1])))
places = list(csv.DictReader(open(sys.argv[2])))
assert len(named) == 3000
dirs = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
seen = set()
for r in named:
    lat, lon = float(r["lat"]), float(r["lon"])
    def d(p):
        n = (lat - float(p["lat"])) * 111.2
        e = (lon - float(p["lon"])) * 111.2 * math.cos(math.radians(lat))
        return math.hypot(n, e), n, e
    km, n, e = min(d(p) for p in places)
    best = min(places, key=lambda p: d(p)[0])["name"]
    want = best if km < 3 else "%s %.0f km %s" % (best, km, dirs[round(math.atan2(e, n) / (math.pi / 4) + 8) % 8])
    assert r["name"] == want, (r, want)
    seen.add(best)
assert len(seen) > 100, len(seen)
EOF
printf 'city,lat,lon\nLyon,45.764,4.836\n' >"$tmp/bad_places.csv"
"$SPATE_BIN" gen-coords --bbox 1,2,3,4 --count 5 --places "$tmp/bad_places.csv" >/dev/null 2>"$tmp/places.err"
rc=$?
check "gen-coords --places rejects a list without a name column (exit 2, says which file and line)" \
        bash -c "[ $rc -eq 2 ] && grep -q \"bad_places.csv:1: the header has no 'name'\" '$tmp/places.err'"
"$SPATE_BIN" gen-coords --bbox 1,2,3 --count 5 >/dev/null 2>&1
ok $(( $? == 2 ? 0 : 1 )) "gen-coords rejects a malformed bbox with exit 2"

# ---------------------------------------------------------------------------- main instance
K1=secret-key-one K2=secret-key-two
start_sim A --keys "$K1,$K2" --rate-limit 5/min --log "$tmp/a.log" --seed 42 || exit 1
ok 0 "weather-sim printed its URL ($URL_A)"

st=$(fetch ok "$URL_A/data/3.0/onecall?lat=48.856613&lon=2.352222&appid=$K1&units=metric" \
        -H 'X-Spate-Instance: inst-A')
ok $(( st == 200 ? 0 : 1 )) "valid key gets 200 (got $st)"
check "One Call JSON: 61 minute-aligned minutely entries from the current minute, 4-decimal lat/lon" \
        $PY - "$tmp/ok.body" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
m = d["minutely"]
assert len(m) == 61
assert all(e["dt"] % 60 == 0 for e in m)
assert all(m[i + 1]["dt"] - m[i]["dt"] == 60 for i in range(60))
assert m[0]["dt"] == d["current"]["dt"] // 60 * 60
assert all(e["precipitation"] >= 0 and round(e["precipitation"], 2) == e["precipitation"] for e in m)
assert d["lat"] == 48.8566 and d["lon"] == 2.3522
for k in ("timezone", "timezone_offset", "current", "hourly", "daily"):
    assert k in d, k
assert -40 < d["current"]["temp"] < 50   # metric
EOF
t0=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["minutely"][0]["dt"])' "$tmp/ok.body")
fetch sim "$URL_A/sim/onecall?lat=48.856613&lon=2.352222&t=$t0&units=metric" >/dev/null
check "/sim/onecall recomputes the same minutely values for the same minute" \
        $PY -c 'import json,sys; a,b=(json.load(open(f))["minutely"] for f in sys.argv[1:]); assert a==b' \
        "$tmp/ok.body" "$tmp/sim.body"

st=$(fetch ex "$URL_A/data/2.5/onecall?lat=52.37&lon=4.89&appid=$K1&exclude=current,hourly,daily")
check "2.5 path works and exclude=current,hourly,daily leaves only minutely" \
        $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "minutely" in d and not {"current","hourly","daily"} & set(d)' "$tmp/ex.body"

BODY401='{"cod":401, "message": "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info."}'
st=$(fetch bad "$URL_A/data/3.0/onecall?lat=48&lon=2&appid=wrong-key" -H 'X-Spate-Instance: inst-B')
ok $(( st == 401 ? 0 : 1 )) "unknown key gets 401 (got $st)"
check "401 body is OWM's exact text" test "$(cat "$tmp/bad.body")" = "$BODY401"
st=$(fetch nokey "$URL_A/data/3.0/onecall?lat=48&lon=2")
ok $(( st == 401 ? 0 : 1 )) "missing appid gets 401 (got $st)"

codes=""
for i in 1 2 3 4 5 6; do
        codes="$codes $(fetch rl "$URL_A/data/3.0/onecall?lat=47&lon=$i&appid=$K2&exclude=hourly,daily" \
                -H "X-Spate-Instance: inst-C")"
done
check "--rate-limit 5/min: five 200s then 429 ($codes)" test "$codes" = " 200 200 200 200 200 429"
BODY429='{"cod":429, "message": "Your account is temporary blocked due to exceeding of requests limitation of your subscription type. Please choose the proper subscription https://openweathermap.org/price"}'
check "429 body is OWM's exact text" test "$(cat "$tmp/rl.body")" = "$BODY429"
ra=$(grep -i '^retry-after:' "$tmp/rl.hdr" | tr -dc '0-9')
ok $(( ${ra:-0} >= 1 && ${ra:-0} <= 60 ? 0 : 1 )) "429 carries Retry-After (${ra:-none} s)"
st=$(fetch other "$URL_A/data/3.0/onecall?lat=47&lon=1&appid=$K1&exclude=hourly,daily")
ok $(( st == 200 ? 0 : 1 )) "the limit is per key: the other key still gets 200 (got $st)"

check "request log names the instance of each request" grep -q ' inst-A 48.856613 2.352222 200 ' "$tmp/a.log"
check "request log has the 401 of inst-B and the 429 of inst-C" \
        sh -c "grep -q ' inst-B 48 2 401 ' '$tmp/a.log' && grep -q ' inst-C 47 6 429 ' '$tmp/a.log'"
check "request log never contains an API key" sh -c "! grep -q -e '$K1' -e '$K2' -e wrong-key '$tmp/a.log'"
check "request log has one line per One Call request (11)" test "$(wc -l <"$tmp/a.log")" -eq 11

fetch stats "$URL_A/stats" >/dev/null
check "/stats counts requests and statuses and proves the admitted rate stayed <= 5/min" \
        $PY - "$tmp/stats.body" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["requests"] == 11, s
assert s["by_status"] == {"200": 8, "401": 2, "429": 1}, s["by_status"]
assert s["max_admitted_in_any_60s_window_per_key"] == 5, s
assert s["max_requests_in_any_60s_window_per_key"] == 6, s
EOF

# ---------------------------------------------------------------------------- faults
start_sim E --error-rate 1 || exit 1
st=$(fetch err "$URL_E/data/3.0/onecall?lat=48&lon=2&appid=x")
ok $(( st == 500 ? 0 : 1 )) "--error-rate 1 answers 500 (got $st)"

start_sim M --malformed-rate 1 || exit 1
bad_docs=0
for i in 1 2 3 4 5 6; do
        st=$(fetch mal "$URL_M/data/3.0/onecall?lat=48&lon=$i&appid=x")
        [ "$st" = 200 ] || bad_docs=99
        $PY -c 'import json,sys
try: d=json.load(open(sys.argv[1]))
except ValueError: sys.exit(0)
sys.exit(0 if not isinstance(d, dict) or not isinstance(d.get("minutely"), list) else 1)' "$tmp/mal.body" \
                || bad_docs=$((bad_docs + 1))
done
ok $bad_docs "--malformed-rate 1 answers 200 with bodies that are not One Call JSON"

start_sim T --truncate-rate 1 || exit 1
size=$(curl -s -o "$tmp/trunc.body" -w '%{size_download}' "$URL_T/data/3.0/onecall?lat=48&lon=2&appid=x")
rc=$?
full=$(fetch full "$URL_T/sim/onecall?lat=48&lon=2" >/dev/null; wc -c <"$tmp/full.body")
ok $(( rc == 18 ? 0 : 1 )) "--truncate-rate 1: the transfer ends early (curl exit $rc)"
ok $(( size > 0 && size <= full / 2 + 1 ? 0 : 1 )) "--truncate-rate 1: about half the body arrives ($size of ~$full bytes)"

start_sim O --timeout-rate 1 --timeout-ms 700 --latency-ms 100 || exit 1
read -r st secs < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' \
        "$URL_O/data/3.0/onecall?lat=48&lon=2&appid=x&exclude=hourly,daily")
check "--timeout-rate 1 --timeout-ms 700 --latency-ms 100 answers after ~0.8 s (got $st in $secs s)" \
        $PY -c "import sys; sys.exit(0 if '$st' == '200' and 0.75 <= $secs < 3 else 1)"

# Same seed and request order => same faults.
fault_seq() {
        start_sim "$1" --seed 7 --error-rate 0.5 || return 1
        local url_var="URL_$1" pid_var="PID_$1" out=""
        for i in $(seq 1 16); do
                out="$out$(curl -s -o /dev/null -w '%{http_code}' "${!url_var}/data/3.0/onecall?lat=48&lon=$i&appid=x&exclude=hourly,daily") "
        done
        # We run in a $(...) subshell: the EXIT trap's pid list never sees this one.
        kill "${!pid_var}"; wait "${!pid_var}" 2>/dev/null
        echo "$out"
}
s1=$(fault_seq F1) s2=$(fault_seq F2)
check "faults are reproducible for a seed and request order" test -n "$s1" -a "$s1" = "$s2"
check "--error-rate 0.5 gives a mix of 200 and 500 ($s1)" sh -c "echo '$s1' | grep -q 200 && echo '$s1' | grep -q 500"

# ---------------------------------------------------------------------------- simulated time
start_sim S --speed 60 --start 1700000000 || exit 1
fetch s1 "$URL_S/data/3.0/onecall?lat=48&lon=2&appid=x&exclude=hourly,daily" >/dev/null
sleep 2
fetch s2 "$URL_S/data/3.0/onecall?lat=48&lon=2&appid=x&exclude=hourly,daily" >/dev/null
check "--speed 60 --start: time starts at the given second and minutely dt advances ~1 min per wall second" \
        $PY - "$tmp/s1.body" "$tmp/s2.body" <<'EOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert 1700000000 <= a["current"]["dt"] < 1700000000 + 60, a["current"]["dt"]
diff = b["minutely"][0]["dt"] - a["minutely"][0]["dt"]
assert 60 <= diff <= 240, diff
EOF

# ---------------------------------------------------------------------------- current weather
start_sim W --keys "$K1" --start 1661870592 --log "$tmp/w.log" || exit 1
st=$(fetch cw "$URL_W/data/2.5/weather?lat=44.34&lon=10.99&appid=$K1&units=metric" -H 'X-Spate-Instance: inst-W')
ok $(( st == 200 ? 0 : 1 )) "Current Weather /data/2.5/weather gets 200 (got $st)"
t_cw=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["dt"])' "$tmp/cw.body")
fetch cwK "$URL_W/sim/weather?lat=44.34&lon=10.99&t=$t_cw" >/dev/null
fetch cwF "$URL_W/sim/weather?lat=44.34&lon=10.99&t=$t_cw&units=imperial" >/dev/null
fetch cwO "$URL_W/sim/onecall?lat=44.34&lon=10.99&t=$t_cw&units=metric&exclude=minutely,hourly,daily" >/dev/null
check "Current Weather: OWM's members, One Call's current values at the same dt, units K/°C/°F" \
        $PY - "$tmp" "${SHARED_DATA:-}" <<'EOF'
import json, os, sys
tmp, shared = sys.argv[1:]
c, k, f, o = (json.load(open(tmp + "/" + n + ".body")) for n in ("cw", "cwK", "cwF", "cwO"))
cur = o["current"]
assert 1661870592 <= c["dt"] < 1661870592 + 60 and c["cod"] == 200, c
assert c["coord"] == {"lon": 10.99, "lat": 44.34}, c["coord"]
assert c["main"]["temp"] == cur["temp"] and c["main"]["feels_like"] == cur["feels_like"], (c, cur)
assert (c["main"]["humidity"], c["main"]["pressure"]) == (cur["humidity"], cur["pressure"])
assert (c["wind"]["speed"], c["wind"]["deg"], c["wind"]["gust"]) == (cur["wind_speed"], cur["wind_deg"], cur["wind_gust"])
assert c.get("rain") == cur.get("rain") and c["clouds"]["all"] == cur["clouds"] and c["weather"] == cur["weather"]
assert abs(k["main"]["temp"] - (c["main"]["temp"] + 273.15)) < 0.006, (k["main"], c["main"])
assert abs(f["main"]["temp"] - (c["main"]["temp"] * 1.8 + 32)) < 0.006, (f["main"], c["main"])
assert abs(f["wind"]["speed"] - c["wind"]["speed"] * 2.236936) < 0.03, (f["wind"], c["wind"])
sample = os.path.join(shared, "owm", "weather_current_zocca.json")
if os.path.exists(sample):   # the real API's answer: same members (rain only when it rains)
    z = json.load(open(sample))
    assert set(c) | {"rain"} == set(z) | {"rain"}, set(c) ^ set(z)
    for m in ("coord", "main", "wind", "clouds"):
        assert set(c[m]) == set(z[m]), (m, set(c[m]) ^ set(z[m]))
    assert set(c["sys"]) <= set(z["sys"]) and set(c["weather"][0]) == set(z["weather"][0])
EOF
st=$(fetch cwbad "$URL_W/data/2.5/weather?lat=44.34&lon=10.99&appid=wrong-key")
check "Current Weather: a bad key gets OWM's 401 ($st)" test "$st:$(cat "$tmp/cwbad.body")" = "401:$BODY401"
st=$(fetch cwgeo "$URL_W/data/2.5/weather?appid=$K1")
check "Current Weather: no lat/lon gets 400 Nothing to geocode ($st)" grep -q "Nothing to geocode" "$tmp/cwgeo.body"
check "Current Weather requests are logged like One Call's, never with the key" \
        sh -c "grep -q ' inst-W 44.34 10.99 200 -' '$tmp/w.log' && ! grep -q -e '$K1' -e wrong-key '$tmp/w.log'"

# ---------------------------------------------------------------------------- shutdown
start_sim H --timeout-rate 1 --timeout-ms 0 || exit 1
curl -s -o /dev/null --max-time 10 "$URL_H/data/3.0/onecall?lat=48&lon=2&appid=x" &
hung=$!
sleep 0.3
kill -TERM "$PID_H"
t_kill=$SECONDS
wait "$PID_H"
rc=$?
ok $rc "SIGTERM stops the server cleanly (exit $rc) even with a never-answered request parked"
wait "$hung"
ok $(( SECONDS - t_kill < 5 ? 0 : 1 )) "the parked request is closed at shutdown"

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
