#!/usr/bin/env bash
# goreleaser (release archives, checksums, Debian/RPM packages through its
# built-in nfpm) for scripts/release.sh, as .cache/bin/goreleaser-v2.17.0. A
# large build: 38 minutes on a loaded 2-core machine, much less on an idle one
# or with a warm Go build cache; skipped when present (keep .cache/).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/go-tool.sh goreleaser github.com/goreleaser/goreleaser/v2 v2.17.0
