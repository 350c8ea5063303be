#!/usr/bin/env bash
# bench/soak.sh: the soak run of icmp_exporter (root, network-namespace lab).
#
# Runs bench/soak's TestSoak: 10 000 lab targets at a 1 s interval for an
# hour, a reload every 30 s that adds or removes a group, an nftables outage
# on a slice of the outage group every minute, 5% random loss on the loss
# group, a scrape every 10 s. Pass: after the warm-up (the first third)
# RSS does not grow (the median of the window's last third within +5% of
# its first third's) and, in runs of 30 minutes or more, stays within ±5%
# of its median; goroutines and file descriptors constant, no
# counter of a target that stays configured goes backwards, every injected
# outage recorded, no outage anywhere else. Writes samples.tsv, summary.txt
# and soak.png (RSS, goroutines, fds, CPU over time; gnuplot) to the output
# directory. Packets go only from the lab's probe namespace to its targets.
#
# Usage (as root, from anywhere in the repository):
#   bench/soak.sh [--duration 1h] [--targets 10000] [--out DIR] [--plot FILE]
#   bench/soak.sh --ci          # 10 minutes (scripts/test.d/80-soak.sh)
set -euo pipefail

duration=1h
targets=10000
out=""
plot=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --plot) plot=$2; shift 2 ;;
    --ci) duration=10m; shift ;;
    -h|--help) usage 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done
die() { echo "soak.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, nftables)"
for tool in ip nft go; do command -v "$tool" >/dev/null || die "needs $tool (run scripts/deps.sh)"; done
[[ $duration =~ ^[0-9]+[hms]$ ]] || die "--duration must be whole hours, minutes or seconds like 1h, 10m, 90s"
[[ $targets =~ ^[0-9]+$ && $targets -ge 100 && $targets -le 65000 ]] || die "--targets must be 100 to 65000 (the lab prefix)"

root=$(cd "$(dirname "$0")/.." && pwd)
[ -n "$out" ] || out="$root/bench/results/soak-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -n "$plot" ] || plot="$out/soak.png"

# go test's own timeout: the run plus start-up, the final checks and a margin.
case "$duration" in
  *h) secs=$((${duration%h} * 3600)) ;;
  *m) secs=$((${duration%m} * 60)) ;;
  *s) secs=${duration%s} ;;
  *) die "--duration must be whole hours, minutes or seconds like 1h, 10m, 90s" ;;
esac
cd "$root"
echo "soak.sh: $targets targets for $duration, results in $out" >&2
set +e
go test -count=1 -v -run '^TestSoak$' -timeout "$((secs + 900))s" ./bench/soak \
  -soak.duration "$duration" -soak.targets "$targets" -soak.interval 1s \
  -soak.reload 30s -soak.scrape 10s -soak.outage 60s -soak.outage-length 6s \
  -soak.loss 5 -soak.out "$out" 2>&1 | tee "$out/test.log"
rc=${PIPESTATUS[0]}
set -e

if command -v gnuplot >/dev/null && [ -s "$out/samples.tsv" ]; then
  gnuplot <<GP
set terminal pngcairo size 1200,900 noenhanced
set output "$plot"
set multiplot layout 4,1 title "icmp_exporter soak: $targets targets at 1 s, reload every 30 s, outages and 5% loss, $(date -u +%F)"
set grid
set key off
set xlabel "minutes"
set ylabel "RSS (MB)"
set yrange [0:*]
plot "$out/samples.tsv" using (\$1/60):2 with lines lw 2
set ylabel "goroutines"
plot "$out/samples.tsv" using (\$1/60):3 with lines lw 2
set ylabel "open fds"
plot "$out/samples.tsv" using (\$1/60):4 with lines lw 2
set ylabel "CPU (% of a core)"
plot "$out/samples.tsv" using (\$1/60):5 with lines lw 2
unset multiplot
GP
  echo "soak.sh: plot $plot" >&2
else
  echo "soak.sh: gnuplot not installed or no samples, no plot (apt-get install gnuplot-nox)" >&2
fi
exit "$rc"
