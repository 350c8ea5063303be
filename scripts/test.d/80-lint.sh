#!/usr/bin/env bash
# Go hygiene, last: go mod tidy changes nothing (both modules); golangci-lint
# with .golangci.yml; the whole module, tests included, type-checks for
# darwin/arm64 and linux/arm (v7, 32-bit); govulncheck against the offline
# vulnerability database that scripts/deps.d/76-govulncheck.sh builds from the
# golang.org/x/vulndb module.
set -euo pipefail
cd "$(dirname "$0")/../.."
go mod tidy -diff
(cd test/k8sschema && go mod tidy -diff)
.cache/bin/golangci-lint-v2.15.0 run ./...
echo "golangci-lint: no findings"
# Cross-compile: the module with its tests type-checks (go vet compiles every
# package for the target) for darwin/arm64 and 32-bit linux/arm; 10-go.sh does
# darwin/amd64 and linux/arm64 the same way, and the release snapshot
# (52-release.sh) links the binary for linux amd64, arm64 and armv7.
for target in darwin/arm64 linux/arm; do
  GOOS=${target%/*} GOARCH=${target#*/} GOARM=7 go vet ./...
  echo "cross-compile $target: module and tests type-check"
done

# govulncheck, offline. A vulnerability the code reaches in a required module
# fails the step; one in the standard library is printed (it is fixed by the
# Go toolchain of the machine that builds the release, not by this code).
db=$(cat .cache/vulndb/CURRENT 2>/dev/null || true)
if [ -z "$db" ] || [ ! -f "$db/index/db.json" ]; then
  echo "no offline vulnerability database (scripts/deps.d/76-govulncheck.sh builds it)"
  exit 1
fi
.cache/bin/govulncheck-v1.9.0 -db "file://$db" -format json ./... >"${TMPDIR:-/tmp}/govulncheck.$$.json"
python3 - "${TMPDIR:-/tmp}/govulncheck.$$.json" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
dec, i, called = json.JSONDecoder(), 0, {}
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    obj, i = dec.raw_decode(text, i)
    f = obj.get("finding")
    if f and f.get("trace") and f["trace"][0].get("function"):
        called[f["osv"]] = (f["trace"][0].get("module"), f.get("fixed_version", ""))
std = sorted(k for k, (m, _) in called.items() if m == "stdlib")
mods = sorted((k, m, fx) for k, (m, fx) in called.items() if m != "stdlib")
if std:
    print("govulncheck: %d standard-library vulnerabilities reached (fixed by a newer Go toolchain): %s" % (len(std), ", ".join(std)))
for k, m, fx in mods:
    print("govulncheck: %s in %s is reached by the code; fixed in %s" % (k, m, fx or "no release yet"))
if mods:
    sys.exit(1)
print("govulncheck: no vulnerability reached in a required module")
PY
rm -f "${TMPDIR:-/tmp}/govulncheck.$$.json"
