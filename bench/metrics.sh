#!/usr/bin/env bash
# metrics.sh - what `spate run --http` costs under load: the same 1,000,000 records through
# bench/map_sink.yaml (every record counted in and out of three nodes) and bench/hourly_region.yaml
# (repartition, window, RocksDB), alternately without and with --http while a scraper reads
# /metrics 10 times a second (Prometheus scrapes every 5-15 s). Each run is its own application (a
# copy of the topology under another name, whose topics the broker creates up front), so all read
# the same backlog from the start; the median of R runs each way is compared, as throughput and as
# CPU time per record (user + sys of the spate process: less disturbed by other load on the machine).
# SPATE_BASE_BIN=path/to/an/older/spate adds runs of a binary without the counters at all.
# env: BENCH_N (records, 1000000), BENCH_RUNS (3), BENCH_PORT (bench/lib.sh)
. "$(dirname "$0")/lib.sh"
N=${BENCH_N:-1000000}
R=${BENCH_RUNS:-3}
HTTP=$((PORT + 3))

# One topology file per run: application m-<topology>-<variant>-<run>.
topos=()
for topo in bench/map_sink.yaml bench/hourly_region.yaml; do
        for v in base off on; do
                for i in $(seq "$R"); do
                        app=m-$(basename "$topo" .yaml)-$v-$i
                        sed -E "s/^application: .*/application: $app/" "$topo" >"$TMP/$app.yaml"
                        topos+=(--topology "$TMP/$app.yaml")
                done
        done
done
start_broker "${topos[@]}" || exit 1
$PY bench/gen_sensors.py "$N" "$TMP/sensors.tsv"
$KT produce "$SPATE_BOOTSTRAP" bench.sensors "$TMP/sensors.tsv" || exit 1

# run TOPOLOGY APP [http|base]: prints records/s (first to last record), CPU microseconds per
# record and the scrapes done.
run() {
        local topo=$1 app=$2 http= scraper= scrapes=0 bin=$SPATE_BIN
        case ${3:-} in http) http=1;; base) bin=$SPATE_BASE_BIN;; esac
        if [ -n "$http" ]; then
                : >"$TMP/scrapes.$app"
                ( while :; do curl -s -o /dev/null "http://127.0.0.1:$HTTP/metrics" && echo >>"$TMP/scrapes.$app"; sleep 0.1; done ) &
                scraper=$!
        fi
        SPATE_STATE_DIR=$TMP/state-$app timed "$bin" run "$TMP/$app.yaml" --until-idle 3s \
                ${http:+--http 127.0.0.1:$HTTP} 2>"$TMP/$app.log"
        [ -z "$scraper" ] || { kill "$scraper"; wait "$scraper" 2>/dev/null; scrapes=$(wc -l <"$TMP/scrapes.$app"); }
        echo "$(sed -nE 's/.*throughput: .* = ([0-9]+) records\/s.*/\1/p' "$TMP/$app.log")" \
             "$(awk -v n="$N" -v u="$T_USER" -v s="$T_SYS" 'BEGIN { printf "%.3f", (u + s) * 1e6 / n }') $scrapes"
}

for topo in bench/map_sink.yaml bench/hourly_region.yaml; do
        name=$(basename "$topo" .yaml)
        off=() on=() base=() coff=() con=() cbase=()
        for i in $(seq "$R"); do
                if [ -n "${SPATE_BASE_BIN:-}" ]; then
                        read -r r c _ < <(run "$topo" "m-$name-base-$i" base); base+=("$r"); cbase+=("$c")
                fi
                read -r r c _ < <(run "$topo" "m-$name-off-$i"); off+=("$r"); coff+=("$c")
                read -r r c s < <(run "$topo" "m-$name-on-$i" http); on+=("$r"); con+=("$c")
                echo "$name run $i: ${base:+base ${base[-1]} records/s ${cbase[-1]} CPU us/record, }without --http" \
                     "${off[-1]} records/s ${coff[-1]} us, with --http ${on[-1]} records/s ${con[-1]} us ($s scrapes)"
        done
        $PY - "$name" "${off[*]}" "${on[*]}" "${base[*]}" "${coff[*]}" "${con[*]}" "${cbase[*]}" <<'PY'
import statistics, sys
name = sys.argv[1]
off, on, base, coff, con, cbase = ([float(x) for x in a.split()] for a in sys.argv[2:8])
med = statistics.median
def cost(x, y):   # how much worse y is than x, in %, for rates (higher is better)
    return 100 * (x - y) / x
print("RESULT metrics %s: median %.0f records/s without --http, %.0f with --http scraped at 10/s: %.1f %% slower;"
      " CPU %.3f vs %.3f us/record: %.1f %% more (goal < 2 %%)"
      % (name, med(off), med(on), cost(med(off), med(on)), med(coff), med(con), -cost(med(coff), med(con))))
if base:
    print("RESULT metrics %s: base binary without the counters: median %.0f records/s, %.3f CPU us/record;"
          " the counters cost %.1f %% CPU, counters and --http %.1f %% CPU"
          % (name, med(base), med(cbase), -cost(med(cbase), med(coff)), -cost(med(cbase), med(con))))
PY
done
