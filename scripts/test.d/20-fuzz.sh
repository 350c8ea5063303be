#!/usr/bin/env bash
# Runs every fuzz target briefly (the seed corpora already run in 10-go.sh as unit tests).
# The budget is a count of executions, not a duration: Go's fuzzer can report a spurious
# "context deadline exceeded" failure when a time budget ends in the middle of an execution.
# About 20 s each on this machine class.
set -euo pipefail
cd "$(dirname "$0")/../.."
go test -run '^$' -fuzz '^FuzzHandle$' -fuzztime "${FUZZ_HANDLE_EXECS:-300000}x" ./probe
go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime "${FUZZ_LOAD_EXECS:-100000}x" ./config
go test -run '^$' -fuzz '^FuzzTargetGroups$' -fuzztime "${FUZZ_SD_EXECS:-30000}x" ./internal/discovery
