#!/usr/bin/env bash
# The release snapshot: scripts/release.sh builds HEAD with goreleaser
# (archives for linux/amd64, arm64, armv7, checksums, deb/rpm) into a
# temporary directory and checks it, including a reproducibility rebuild.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash scripts/release.sh "$tmp/dist"
