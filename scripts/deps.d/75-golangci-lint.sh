#!/usr/bin/env bash
# golangci-lint (scripts/test.d/80-lint.sh) as .cache/bin/golangci-lint-v2.15.0
# (17 minutes cold on a loaded 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/go-tool.sh golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint v2.15.0
