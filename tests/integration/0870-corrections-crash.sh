#!/usr/bin/env bash
# 0870-corrections-crash.sh - a window with dedupe_by: id, corrections:
# replace (tumbling 30 s per station, retention 1m, emit: final) through
# kill -9s: 9 stations in 3 partitions, 8 minutes of readings of which a
# fifth get new versions (same id and time, another temperature) soon, after
# their window closed (revisions) or past retention (dead letters). Produced
# in thirds: a kill -9 once the first third's windows came out, another once
# the second's started to, the last third after the restore. Every message
# must be a value its window had once closed, the last one its final value
# ("the latest version of each id wins"), and the dead letters exactly the
# late readings - all per tests/ref/corrections_ref.py.
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/corrections_crash.sh"
corrections_crash_test 0870 ""
