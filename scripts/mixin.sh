#!/usr/bin/env bash
# Renders the monitoring mixin (mixin/) into its checked-in output:
#   alerts/icmp_exporter.rules.yml   the recording rules and alerts
#   dashboards/*.json                the Grafana dashboards
# With --check, renders into a temporary directory instead and fails, showing the difference, when
# the checked-in files are not what the mixin produces (run `make mixin` and commit the result).
# Needs go-jsonnet's jsonnet (scripts/deps.d/45-jsonnet.sh puts it into .cache/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.cache/bin:$PATH"
if ! jsonnet --version 2>/dev/null | grep -q 'Go implementation'; then
  echo "mixin: go-jsonnet's jsonnet not found: run bash scripts/deps.d/45-jsonnet.sh (or make deps)" >&2
  exit 1
fi
check=false
[ "${1:-}" = "--check" ] && check=true
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
