#!/usr/bin/env bash
# The discovery benchmarks once each (smoke): a 100k-target file_sd update
# with 1% changed applied to a running engine on the in-memory network
# (fails when kept targets lose their counters), and relabelling 100k
# targets. Figures: docs/discovery.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
go test -run '^$' -bench 'BenchmarkUpdate100k|BenchmarkProcess100k' -benchtime 1x -count 1 ./internal/discovery
