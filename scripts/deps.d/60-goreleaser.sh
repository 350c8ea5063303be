#!/usr/bin/env bash
# goreleaser (release archives, checksums, Debian/RPM packages through its
# built-in nfpm) from the Go module proxy, pinned, into
# .cache/bin/goreleaser-$VERSION for scripts/release.sh. A large build: about
# 38 minutes on a loaded 2-core machine, much less on an idle one and with a
# warm Go build cache; skipped when the binary exists (keep .cache/).
set -euo pipefail
cd "$(dirname "$0")/../.."
version=v2.17.0
bin="$PWD/.cache/bin/goreleaser-$version"
if [ -x "$bin" ]; then
  echo "goreleaser $version present: $bin"
  exit 0
fi
mkdir -p "$PWD/.cache/bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
GOBIN="$tmp" GOFLAGS=-mod=mod go install "github.com/goreleaser/goreleaser/v2@$version"
install -m 0755 "$tmp/goreleaser" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "built $bin in $(( $(date +%s) - start ))s"
