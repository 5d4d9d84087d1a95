#!/usr/bin/env bash
# 0500-geo-crosscheck.sh - spate geo-lookup agrees with an independent shapely reference on random points.
set -u
: "${SPATE_BIN:?}" "${SHARED_DATA:=../shared/data}"
PY=/usr/bin/python3
REF="$(dirname "$0")/../ref/geo_ref.py"
N=${GEO_CROSSCHECK_POINTS:-50000}
tmp=$(mktemp -d /tmp/spate-geo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0

# set name, file, name property, seed
sets=("france france_regions.geojson nom 1" "netherlands nl_provinces.geojson name 2")

if ! $PY -c 'import shapely.vectorized, numpy' 2>/dev/null; then
        for s in "${sets[@]}"; do for mode in polygon bbox_first_match; do
                n=$((n + 1)); echo "ok $n - ${s%% *} $mode # SKIP python3-shapely absent"
        done; done
        exit 0
fi

for s in "${sets[@]}"; do
        read -r set file prop seed <<<"$s"
        path="$SHARED_DATA/geo/$file"
        if [ ! -f "$path" ]; then
                for mode in polygon bbox_first_match; do
                        n=$((n + 1)); echo "ok $n - $set $mode # SKIP ../shared/data absent"
                done
                continue
        fi
        $PY "$REF" gen "$path" "$N" "$seed" >"$tmp/$set.csv"
        for mode in polygon bbox_first_match; do
                n=$((n + 1))
                ref_kind="shapely contains"
                [ "$mode" = polygon ] || ref_kind="rectangles computed in Python"
                if ! "$SPATE_BIN" geo-lookup --regions "$path" --name "$prop" --mode "$mode" \
                        <"$tmp/$set.csv" >"$tmp/$set.$mode.ours" 2>"$tmp/err"; then
                        echo "not ok $n - $set $mode: spate geo-lookup failed: $(head -c 300 "$tmp/err")"
                        continue
                fi
                $PY "$REF" lookup "$path" "$prop" "$mode" <"$tmp/$set.csv" >"$tmp/$set.$mode.ref"
                if $PY "$REF" compare "$path" "$prop" "$tmp/$set.$mode.ours" "$tmp/$set.$mode.ref" \
                        >"$tmp/cmp"; then
                        echo "ok $n - $set $mode: spate agrees with the reference ($ref_kind):$(head -1 "$tmp/cmp" | tr -d '#')"
                else
                        echo "not ok $n - $set $mode: spate disagrees with the reference"
                fi
                cat "$tmp/cmp"
        done
done
