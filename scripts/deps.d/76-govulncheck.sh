#!/usr/bin/env bash
# govulncheck and an offline copy of the Go vulnerability database.
# govulncheck's database is online (vuln.go.dev), which this machine cannot
# reach; the same data ships as the module golang.org/x/vulndb (data/osv, one
# OSV file per report) through the Go module proxy. Its own cmd/indexdb turns
# those files into the database layout govulncheck reads with
# -db file://DIR (.cache/vulndb/$VULNDB). About 12 minutes on a loaded
# 2-core machine; both steps are skipped when present. Move VULNDB forward to
# pick up newer reports.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=v1.9.0
vulndb=v0.0.0-20261105234957-e22db6528018
db="$PWD/.cache/vulndb/$vulndb"
mkdir -p "$PWD/.cache/bin" "$PWD/.cache/vulndb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash scripts/go-tool.sh govulncheck golang.org/x/vuln/cmd/govulncheck "$version"
if [ ! -f "$db/index/db.json" ]; then
  src=$(cd "$tmp" && go mod download -json "golang.org/x/vulndb@$vulndb" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  (cd "$tmp" && go run "golang.org/x/vulndb/cmd/indexdb@$vulndb" -vulns "$src/data/osv" -out "$tmp/db")
  rm -rf "$db" && mv "$tmp/db" "$db"
fi
echo "$db" >"$PWD/.cache/vulndb/CURRENT"
echo "govulncheck $version, offline database $vulndb"
