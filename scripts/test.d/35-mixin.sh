#!/usr/bin/env bash
# The monitoring mixin: the checked-in alerts/ and dashboards/ must be exactly what mixin/ renders
# with go-jsonnet (fails with the difference otherwise: run make mixin), and the mixin's _config
# must reach every rule and dashboard (mixin/test/config_test.jsonnet).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/mixin.sh --check
export PATH="$PWD/.cache/bin:$PATH"
jsonnet -S mixin/test/config_test.jsonnet
# A misspelt threshold must be an error, not a silently ignored setting.
if out=$(jsonnet -S -e "(import 'mixin/lib/render.libsonnet').rulesFile((import 'mixin/mixin.libsonnet') + { _config+:: { thresholds+: { targetDownSecs: 5 } } })" 2>&1); then
  echo "mixin: an unknown threshold in _config was accepted" >&2
  exit 1
fi
grep -q "unknown targetDownSecs" <<<"$out" || { echo "mixin: unexpected error for an unknown threshold: $out" >&2; exit 1; }
echo "mixin: an unknown threshold is refused"
