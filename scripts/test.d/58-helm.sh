#!/usr/bin/env bash
# The Helm chart: helm lint and helm template through deploy/helm_test.go
# (the rendered workloads get the deploy/kubernetes checks), then every
# rendered object of every value set, and the plain manifests of
# deploy/kubernetes, decoded strictly into the Kubernetes and Prometheus
# Operator API types (test/k8sschema, offline).
set -euo pipefail
cd "$(dirname "$0")/../.."
helm=".cache/bin/helm-v4.3.2"
go test -count=1 -run 'Helm' ./deploy/
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
c=deploy/helm/icmp-exporter
"$helm" template icmp "$c" >"$tmp/default.yaml"
"$helm" template icmp "$c" --set serviceMonitor.enabled=true,podMonitor.enabled=true,prometheusRule.enabled=true,dashboards.enabled=true >"$tmp/monitors.yaml"
"$helm" template icmp "$c" --set kind=StatefulSet,replicas=3,icmpAccess=netRaw >"$tmp/sharded.yaml"
(cd test/k8sschema && go test -count=1 . && go run . "$tmp"/*.yaml "$OLDPWD"/deploy/kubernetes/*.yaml)
