#!/usr/bin/env bash
# 0770-municipal.sh - topology/municipal.yaml into SQLite, as shipped, with two instances, kill -9s
# and side data changing while it runs: every row of both tables (versions and current) and every
# dead letter equals the reference (tests/municipal.sh describes the run).
. "$SPATE_ROOT/tests/lib.sh"
. "$SPATE_ROOT/tests/municipal.sh"
municipal_test sqlite
