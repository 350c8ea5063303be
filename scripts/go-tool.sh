#!/usr/bin/env bash
# go-tool.sh NAME PACKAGE VERSION: installs a Go command from the Go module
# proxy, pinned, as .cache/bin/NAME-VERSION (what the scripts call); does
# nothing when it is there. Used by scripts/deps.d/*.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 pkg=$2 version=$3
bin="$PWD/.cache/bin/$name-$version"
if [ -x "$bin" ]; then
  echo "$name $version present: $bin"
  exit 0
fi
mkdir -p "$PWD/.cache/bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
GOBIN="$tmp" go install "$pkg@$version"
# go install names the binary after the last path element, a /vN suffix left out.
exe=$(basename "$pkg")
[[ "$exe" =~ ^v[0-9]+$ ]] && exe=$(basename "$(dirname "$pkg")")
install -m 0755 "$tmp/$exe" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "built $bin in $(( $(date +%s) - start ))s"
