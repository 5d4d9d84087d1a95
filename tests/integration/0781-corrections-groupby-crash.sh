#!/usr/bin/env bash
# 0781-corrections-groupby-crash.sh - window corrections (dedupe_by: id, corrections: replace)
# with group_by, so that the window is split into a repartition half and a window half: each
# record carries its id through the repartition topic (no combining), and a version of a closed
# window goes down to be judged there by its source partition's stream time. The same run and
# reference as 0870 (tests/corrections_crash.sh, tests/ref/corrections_ref.py) through two
# kill -9s: every message a value its window had once closed, the last one its final value, the
# dead letters exactly the late readings with their reason.
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/corrections_crash.sh"
corrections_crash_test 0781 "    group_by: key()
"
