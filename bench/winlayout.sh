#!/usr/bin/env bash
# winlayout.sh - the bytes a window's changelog carries under each layout the window could take
# on the engine's stores (docs/stores.md, step 4): runs the integration tests of the shipped
# windowed topologies as they are (their generators, kill -9s and corrections), copies every
# changelog at each test's end (tests/lib.sh: SPATE_TEST_DUMP) and replays the window ones
# (bench/winlayout.py). Not part of make bench: it measures a design choice, not a speed.
#
# usage: SPATE_BIN=bin/spate bench/winlayout.sh   (env WINLAYOUT_TESTS: the tests, by file name)
cd "$(dirname "$0")/.." || exit 1
: "${SPATE_BIN:?set SPATE_BIN to the spate binary}"
export SPATE_ROOT=$PWD SHARED_DATA=${SHARED_DATA:-$PWD/../shared/data}
SPATE_TEST_DUMP=$(mktemp -d /tmp/spate-winlayout.XXXXXX)
export SPATE_TEST_DUMP
trap 'rm -rf "$SPATE_TEST_DUMP"' EXIT
for t in ${WINLAYOUT_TESTS:-0460-iot-end-to-end 0740-current-weather-sql 0760-region-temps 0770-municipal \
                0900-flagship}; do
        echo "== tests/integration/$t.sh"
        bash "tests/integration/$t.sh" >"$SPATE_TEST_DUMP/$t.log" 2>&1 ||
                { grep '^not ok' "$SPATE_TEST_DUMP/$t.log"; echo "$t failed: its changelogs are measured all the same"; }
done
/usr/bin/python3 bench/winlayout.py "$SPATE_TEST_DUMP"/*/*.bin
