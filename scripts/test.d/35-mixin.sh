#!/usr/bin/env bash
# The monitoring mixin: the checked-in alerts/ and dashboards/ must be exactly what mixin/ renders
# with go-jsonnet (fails with the difference otherwise: run make mixin), and the mixin's _config
# must reach every rule and dashboard (mixin/test/config_test.jsonnet).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/mixin.sh --check
