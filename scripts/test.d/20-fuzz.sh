#!/usr/bin/env bash
# Runs every fuzz target briefly (the seed corpora already run in 10-go.sh as unit tests).
set -euo pipefail
cd "$(dirname "$0")/../.."
t=${FUZZTIME:-20s}
go test -run '^$' -fuzz '^FuzzHandle$' -fuzztime "$t" ./probe
go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime "$t" ./config
