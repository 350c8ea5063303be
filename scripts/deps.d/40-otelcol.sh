#!/usr/bin/env bash
# Builds a real OpenTelemetry Collector (OTLP receiver + debug exporter) into
# .cache/bin/otelcol-icmp for the collector/otlp integration test. Uses the
# official builder from the Go module proxy; about 3.5 minutes cold, skipped
# when the binary exists (keep .cache/ between CI runs to save the time).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bin="$root/.cache/bin/otelcol-icmp"
if [ -x "$bin" ]; then
  echo "otelcol-icmp present: $bin"
  exit 0
fi
mkdir -p "$root/.cache/bin" "$root/.cache/otelcol"
work=$(mktemp -d "$root/.cache/otelcol/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
GOBIN="$root/.cache/bin" go install go.opentelemetry.io/collector/cmd/builder@v0.162.0
cp scripts/otelcol/builder.yaml "$work/builder.yaml"
# Uses every core: on CI this is the only job running.
(cd "$work" && CGO_ENABLED=0 "$root/.cache/bin/builder" --config builder.yaml)
install -m 0755 "$work/build/otelcol-icmp" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "built $bin"
