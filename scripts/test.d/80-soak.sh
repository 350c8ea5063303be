#!/usr/bin/env bash
# The soak run's CI variant (bench/soak.sh --ci): 10 000 lab targets at 1 s for
# 10 minutes with reloads every 30 s, nftables outages and loss, scrapes every
# 10 s; fails on RSS growth, goroutine or fd leaks, counters going backwards,
# missed or false outages. The hour-long run and its figures:
# docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bash bench/soak.sh --ci --out "$out"
