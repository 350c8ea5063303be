#!/usr/bin/env bash
# helm (chart lint and template, deploy/helm_test.go and
# scripts/test.d/58-helm.sh) from the Go module proxy, pinned, into
# .cache/bin/helm-$VERSION; and the modules of test/k8sschema (the offline
# Kubernetes schema check). Skipped when present.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=v4.3.2
bin="$PWD/.cache/bin/helm-$version"
(cd test/k8sschema && go mod download)
if [ -x "$bin" ]; then
  echo "helm $version present: $bin"
  exit 0
fi
mkdir -p "$PWD/.cache/bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
GOBIN="$tmp" go install "helm.sh/helm/v4/cmd/helm@$version"
install -m 0755 "$tmp/helm" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "built $bin in $(( $(date +%s) - start ))s"
