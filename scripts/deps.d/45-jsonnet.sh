#!/usr/bin/env bash
# go-jsonnet's `jsonnet` command, pinned, into .cache/bin: `make mixin` and scripts/test.d/35-mixin.sh
# build alerts/ and dashboards/ from mixin/ with it. (Debian's jsonnet 0.18 is the C++ one and
# crashes in std.parseYaml on block scalars.) Idempotent: skipped when the pinned version is there.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=v0.22.0
bin="$PWD/.cache/bin"
mkdir -p "$bin"
if "$bin/jsonnet" --version 2>/dev/null | grep -qF "$version"; then
  echo "jsonnet $version present: $bin/jsonnet"
  exit 0
fi
GOBIN="$bin" go install "github.com/google/go-jsonnet/cmd/jsonnet@$version"
"$bin/jsonnet" --version
