#!/usr/bin/env bash
# update-readme.sh - regenerates the README's node reference from `spate nodes`.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s all >/dev/null
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
bin/spate nodes >"$tmp"
python3 - "$tmp" <<'PY'
import re, sys
readme = open("README.md").read()
gen = open(sys.argv[1]).read()
new = re.sub(r"(<!-- nodes:begin -->\n).*?(<!-- nodes:end -->)", lambda m: m.group(1) + gen + m.group(2),
             readme, flags=re.S)
open("README.md", "w").write(new)
PY
