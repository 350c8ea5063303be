#!/usr/bin/env bash
# helm (chart lint and template: deploy/helm_test.go, scripts/test.d/58-helm.sh)
# as .cache/bin/helm-v4.3.2 (44 minutes cold on a loaded 2-core machine), and
# the modules of test/k8sschema (the offline Kubernetes schema check).
set -euo pipefail
cd "$(dirname "$0")/../.."
(cd test/k8sschema && go mod download)
bash scripts/go-tool.sh helm helm.sh/helm/v4/cmd/helm v4.3.2
