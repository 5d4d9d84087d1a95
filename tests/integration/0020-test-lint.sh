#!/usr/bin/env bash
# 0020-test-lint.sh - the test scripts' own mistakes that would let a check pass
# whatever happens: `check WHAT [ a ] && [ b ]` runs only `[ a ]` as the check
# (the shell applies && to check's status), so b can never fail the test. And helpers defined
# again beside lib.sh's: a SIGKILL of an instance (kill_spate, kill_at_random), a sum of a group's
# committed offsets (committed_records, wait_committed), the partition count of an instance's last
# assignment (holds_partitions), a comparison with dedupe_ref.py (dedupe_exact, dedupe_report), an
# instance's log after a mark (log_mark, log_since), a restore from a standby's copy
# (check_warm_restore, check_restored_by).
. "$SPATE_ROOT/tests/lib.sh"
cd "$SPATE_ROOT/tests" || exit 1
# A check's command, continuation lines joined, followed by && [ or || [ outside quotes.
bad=$($PY - $(ls *.sh integration/*.sh) <<'PY'
import re, sys
STR = re.compile(r'"(\\.|[^"\\])*"|\'[^\']*\'')
for path in sys.argv[1:]:
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        start, line = i, lines[i]
        if not re.match(r"\s*check\s", line):
            i += 1
            continue
        # Join continuation lines and quotes spanning lines into one command.
        while i + 1 < len(lines) and (line.endswith("\\") or re.search(r"[\"']", STR.sub("", line))):
            i += 1
            line = line.rstrip("\\") + " " + lines[i].strip()
        i += 1
        bare = STR.sub("''", line).split("#")[0]
        if re.search(r"(&&|\|\|)\s*(\[|test\s)", bare):
            print("%s:%d: %s" % (path, start + 1, lines[start].strip()))
PY
)
check "no check chains a second condition outside itself${bad:+: $bad}" [ -z "$bad" ]
# A kill9 function, a one-line function that sends SIGKILL, reads `$KT committed` or the last
# "assigned N partitions" line or the log after a line number, a sum over `$KT committed`, a
# dedupe_ref.py comparison, a check of a standby's warm copy.
twins=$(grep -nE '^\s*kill9\s*\(\)|^\s*[A-Za-z_][A-Za-z_0-9]*\s*\(\)\s*\{.*(kill -(KILL|9)\b|\$KT committed|assigned .*partitions.*\| *tail -1|tail -n \+\$\(\()|\$KT committed .*\| *awk .*\+=|dedupe_ref\.py"? compare|grep -q "kept warm by a standby"' \
        *.sh integration/*.sh | grep -v -e '^lib\.sh:' -e '^integration/0020-test-lint\.sh:')
check "no test defines again a SIGKILL, committed-offset, assignment, log-mark, dedupe-reference or warm-restore helper of lib.sh's${twins:+: $twins}" [ -z "$twins" ]
