#!/usr/bin/env bash
# update-readme.sh - regenerates the README's node reference from `spate nodes`.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s all >/dev/null
bin/spate nodes >/tmp/spate-nodes.md
python3 - <<'PY'
import re
readme = open("README.md").read()
gen = open("/tmp/spate-nodes.md").read()
new = re.sub(r"(<!-- nodes:begin -->\n).*?(<!-- nodes:end -->)", lambda m: m.group(1) + gen + m.group(2),
             readme, flags=re.S)
open("README.md", "w").write(new)
PY
