#!/usr/bin/env bash
# Installs what the test suite needs: every scripts/deps.d/*.sh in order.
# Idempotent; each part skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in scripts/deps.d/*.sh; do
  [ -e "$f" ] || continue
  echo "== deps: $f ($(date -u +%T))"
  bash "$f"
done
