#!/usr/bin/env bash
# Fuzzing beyond CI: runs every native fuzz target of the module for a fixed
# time each (default 10 minutes) and records, per target, the executions, the
# new interesting inputs (corpus entries in the Go cache) and whether it found
# a failure. A failing input is written by Go to the package's
# testdata/fuzz/<Target>/ directory: commit it, it then runs as a unit test.
#
#   scripts/fuzz.sh [--time 10m] [--out DIR] [--only REGEXP]
#
# Results: DIR/results.tsv (target, package, seconds, execs, new_interesting,
# corpus_total, result) and one log per target. Not part of the suite (it takes
# 10 minutes per target); scripts/test.d/20-fuzz.sh runs a short count there.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=10m
out=
only=.
while [[ $# -gt 0 ]]; do
	case $1 in
	--time) fuzztime=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "fuzz.sh: unknown argument $1; see --help" >&2; exit 2 ;;
	esac
done
out=${out:-$(mktemp -d /tmp/fuzz.XXXXXX)}
mkdir -p "$out"
results=$out/results.tsv
printf 'target\tpackage\tseconds\texecs\tnew_interesting\tcorpus_total\tresult\n' >"$results"

# Every package with a Fuzz function, and its targets.
mapfile -t pkgs < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' ./... | awk 'NF')
failed=0
for line in "${pkgs[@]}"; do
	pkg=${line%% *}
	dir=${line#* }
	mapfile -t targets < <(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u)
	for t in "${targets[@]}"; do
		[[ $t =~ $only ]] || continue
		log=$out/$t.log
		echo "fuzz.sh: $t ($pkg) for $fuzztime, log $log" >&2
		start=$(date +%s)
		set +e
		go test -run '^$' -fuzz "^$t\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1
		rc=$?
		set -e
		secs=$(($(date +%s) - start))
		# Last progress line: "fuzz: elapsed: 600s, execs: 123 (205/sec), new interesting: 4 (total: 12)"
		last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n1 || true)
		execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
		newi=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
		total=$(sed -nE 's/.*\(total: ([0-9]+)\).*/\1/p' <<<"$last")
		result=ok
		if [[ $rc -ne 0 ]]; then
			# A time budget can end inside an execution and make Go report
			# "context deadline exceeded" without a failing input: not a finding.
			if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
				result=ok-deadline
			else
				result=FAIL
				failed=1
			fi
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$pkg" "$secs" "${execs:-?}" "${newi:-?}" "${total:-?}" "$result" >>"$results"
	done
done
column -t -s $'\t' "$results"
if [[ $failed -ne 0 ]]; then
	echo "fuzz.sh: a target failed; the failing inputs are under testdata/fuzz/ (see the logs in $out)" >&2
	exit 1
fi
