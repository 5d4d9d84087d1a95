#!/usr/bin/env bash
# 0010-readme-reference.sh - the README's node reference equals `spate nodes`, so the
# documentation cannot drift from the property tables.
. "$SPATE_ROOT/tests/lib.sh"
sed -n '/<!-- nodes:begin -->/,/<!-- nodes:end -->/p' "$SPATE_ROOT/README.md" | sed '1d;$d' >"$TMP/readme"
"$SPATE_BIN" nodes >"$TMP/generated"
if diff -u "$TMP/generated" "$TMP/readme" >"$TMP/diff"; then ok "README node reference matches 'spate nodes'"
else nok "README node reference is stale: run scripts/update-readme.sh"; head -20 "$TMP/diff" | sed 's/^/# /'; fi
