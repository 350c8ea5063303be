#!/usr/bin/env bash
# go-jsonnet's `jsonnet` and `jsonnetfmt` commands, pinned, into .cache/bin: `make mixin` and
# scripts/test.d/35-mixin.sh format mixin/ and build alerts/ and dashboards/ from it. (Debian's jsonnet 0.18 is the C++ one and
# crashes in std.parseYaml on block scalars.) Idempotent: skipped when the pinned version is there.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=v0.22.0
bin="$PWD/.cache/bin"
mkdir -p "$bin"
for cmd in jsonnet jsonnetfmt; do
  if "$bin/$cmd" --version 2>/dev/null | grep -qF "$version"; then
    echo "$cmd $version present: $bin/$cmd"
    continue
  fi
  GOBIN="$bin" go install "github.com/google/go-jsonnet/cmd/$cmd@$version"
  echo "installed $("$bin/$cmd" --version)"
done
