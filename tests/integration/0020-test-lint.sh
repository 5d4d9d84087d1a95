#!/usr/bin/env bash
# 0020-test-lint.sh - the test scripts' own mistakes that would let a check pass
# whatever happens: `check WHAT [ a ] && [ b ]` runs only `[ a ]` as the check
# (the shell applies && to check's status), so b can never fail the test.
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
