#!/usr/bin/env bash
# systemd-analyze, for deploy/systemd_test.go (verify and offline security
# assessment of deploy/systemd/icmp_exporter.service). Installing the package
# does not start anything in a container without systemd as PID 1.
set -euo pipefail
if ! command -v systemd-analyze >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends systemd
fi
