#!/usr/bin/env bash
# golangci-lint (scripts/test.d/80-lint.sh) from the Go module proxy, pinned,
# into .cache/bin/golangci-lint-$VERSION. Skipped when present.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=v2.15.0
bin="$PWD/.cache/bin/golangci-lint-$version"
if [ -x "$bin" ]; then
  echo "golangci-lint $version present: $bin"
  exit 0
fi
mkdir -p "$PWD/.cache/bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
GOBIN="$tmp" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version"
install -m 0755 "$tmp/golangci-lint" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "built $bin in $(( $(date +%s) - start ))s"
