#!/usr/bin/env bash
# Runs the whole test suite: every scripts/test.d/*.sh in order; fails if any fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.cache/bin:$PATH"
failed=()
passed=0
for f in scripts/test.d/*.sh; do
  [ -e "$f" ] || continue
  echo "== test: $f ($(date -u +%T))"
  if bash "$f"; then passed=$((passed+1)); else failed+=("$f"); fi
done
echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed parts: ${failed[*]}"
fi
echo "suite: ${passed} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
