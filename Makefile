# The two commands of the README:
#   make run   builds the exporter and runs it on config.example.yml
#   make test  installs what the tests need (Debian packages, peers) and runs the whole suite
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BINARY ?= icmp_exporter
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w \
	-X github.com/prometheus/common/version.Version=$(VERSION) \
	-X github.com/prometheus/common/version.Revision=$(REVISION) \
	-X github.com/prometheus/common/version.Branch=main \
	-X github.com/prometheus/common/version.BuildUser=icmp_exporter

.PHONY: build run test deps mixin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) .

run: build
	./scripts/run.sh ./$(BINARY) --config.file=config.example.yml

deps:
	bash scripts/deps.sh

test: deps
	bash scripts/test.sh

# Regenerates alerts/icmp_exporter.rules.yml and dashboards/*.json from mixin/ with go-jsonnet
# (scripts/deps.d/45-jsonnet.sh installs it into .cache/bin). CI fails when they differ from the
# checked-in files (scripts/test.d/35-mixin.sh).
mixin:
	bash scripts/mixin.sh
