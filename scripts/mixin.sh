#!/usr/bin/env bash
# Renders the monitoring mixin (mixin/) into its checked-in output:
#   alerts/icmp_exporter.rules.yml   the recording rules and alerts
#   dashboards/*.json                the Grafana dashboards
# It formats mixin/ with jsonnetfmt first. With --check, it changes nothing: it fails, showing the
# difference, when mixin/ is not formatted or the checked-in files are not what the mixin renders
# (run `make mixin` and commit the result).
# Needs go-jsonnet's jsonnet and jsonnetfmt (scripts/deps.d/45-jsonnet.sh puts them into .cache/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.cache/bin:$PATH"
if ! jsonnet --version 2>/dev/null | grep -q 'Go implementation' || ! command -v jsonnetfmt >/dev/null; then
  echo "mixin: go-jsonnet's jsonnet and jsonnetfmt not found: run bash scripts/deps.d/45-jsonnet.sh (or make deps)" >&2
  exit 1
fi
check=false
[ "${1:-}" = "--check" ] && check=true
mapfile -t sources < <(find mixin -name '*.jsonnet' -o -name '*.libsonnet' | sort)
if $check; then
  if ! unformatted=$(jsonnetfmt --test "${sources[@]}"); then
    echo "mixin: not formatted (run make mixin): $unformatted" >&2
    exit 1
  fi
else
  jsonnetfmt -i "${sources[@]}"
fi
out=.
if $check; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  mkdir -p "$out/alerts" "$out/dashboards"
fi
jsonnet -S mixin/build/rules.jsonnet -o "$out/alerts/icmp_exporter.rules.yml"
# Dashboards: every *.json of dashboards/ is generated; remove the old ones first so a dashboard
# dropped from the mixin does not linger.
if ! $check; then rm -f dashboards/*.json; fi
jsonnet -S -m "$out/dashboards" mixin/build/dashboards.jsonnet >/dev/null
if $check; then
  rc=0
  diff -u alerts/icmp_exporter.rules.yml "$out/alerts/icmp_exporter.rules.yml" || rc=1
  diff -u -r -x provisioning -x '*.go' dashboards "$out/dashboards" || rc=1
  if [ "$rc" -ne 0 ]; then
    echo "mixin: the checked-in alerts/ or dashboards/ differ from what mixin/ renders: run make mixin and commit" >&2
    exit 1
  fi
  echo "mixin: alerts/ and dashboards/ match mixin/"
fi
