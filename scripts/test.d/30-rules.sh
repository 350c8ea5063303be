#!/usr/bin/env bash
# Prometheus rules and the Alertmanager example, with Debian's promtool and amtool
# (scripts/deps.d/20-prometheus.sh puts them into .cache/bin):
# promtool check rules, promtool test rules (alerts/tests/*.yml), amtool check-config.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.cache/bin:$PATH"
promtool check rules alerts/*.rules.yml
promtool test rules alerts/tests/*.yml
amtool check-config alerts/alertmanager-inhibit.yml
