#!/usr/bin/env bash
# gnuplot (no X), for the plot of bench/soak.sh (RSS, goroutines, fds, CPU over time).
set -euo pipefail
if ! command -v gnuplot >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends gnuplot-nox
fi
