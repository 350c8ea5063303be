#!/usr/bin/env bash
# gofmt, go vet, and every Go test with the race detector (privileged tests run as root).
set -euo pipefail
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi
go vet ./...
CGO_ENABLED=1 go test -race -count=1 -timeout 30m ./...
