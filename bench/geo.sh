#!/usr/bin/env bash
# geo.sh - runs the geo region index benchmark (lookups/s per core); called from bench/run.sh or by hand.
#   SPATE_BENCH_BIN  directory of the bench binaries (make bench sets it; default build/bench)
#   SHARED_DATA      data directory holding geo/france_regions.geojson (default ../shared/data)
#   GEO_BENCH_SECS   seconds per case (default 1)
set -eu
cd "$(dirname "$0")/.."
bin=${SPATE_BENCH_BIN:-$PWD/build/bench}/geo_bench
data=${SHARED_DATA:-$PWD/../shared/data}
if [ ! -x "$bin" ]; then
        echo "geo.sh: $bin missing; run 'make bench' (or make $bin)" >&2
        exit 1
fi
if [ ! -f "$data/geo/france_regions.geojson" ]; then
        echo "geo.sh: SKIP, $data/geo/france_regions.geojson absent" >&2
        exit 0
fi
exec "$bin" "$data/geo/france_regions.geojson" "${GEO_BENCH_SECS:-1}"
