#!/usr/bin/env bash
# The scale benchmark's smoke mode (bench/scale.sh --smoke: 1000 lab targets,
# 10 s, icmp datapath, fping beside it): proves the script, its lab and its
# scrape helper work end to end. The full benchmark is not part of the suite;
# its figures are in docs/benchmark.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bash bench/scale.sh --smoke --out "$out"
