#!/usr/bin/env bash
# bench/scale.sh: the scale benchmark of icmp_exporter.
#
# Builds the exporter, builds the two-namespace lab of test/lab (through
# test/lab/cmd/labnet: a probe namespace whose only route is a veth to a target
# namespace whose kernel answers for all of 10.210.0.0/15), then for every
# target count N, in --runs rounds, runs the exporter per datapath in the probe
# namespace at a 1 s interval and then fping on the same targets, alternately,
# and measures over a window after a warm-up: probes/s, loss, skipped probes,
# schedule lag, reported RTT median/p99, exporter CPU and memory, syscalls per
# probe (strace -c), scrape duration and size; fping's CPU. A summary gives the
# median and the range over the rounds, and the exporter/fping CPU ratio of
# each round (the two ran minutes apart, so a busy machine shows in the range).
# bench/memstat adds the bytes per target of spec, engine and collector.
# Packets go only from the probe namespace to the lab prefix. Everything the
# script creates is removed on exit, also on failure or Ctrl-C.
#
# Usage (as root, from anywhere in the repository):
#   bench/scale.sh [--n 1000,5000,10000,50000,100000] [--datapaths icmp,afpacket]
#                  [--duration 30] [--warmup 10] [--histogram native]
#                  [--runs 3] [--nice N] [--no-fping] [--no-strace] [--perf] [--bin PATH] [--out DIR]
#                  [--interval 1] [--ipv6] [--per-target up,counters,...] [--reload PCT]
#                  [--target-napi] [--scrape-every S]
#   --reload PCT: during the window, two reloads (POST /-/reload): the first
#                 adds PCT% of N new targets as a second group, the second
#                 removes them again; their durations are reported, and the
#                 window's skipped, lost and schedule lag show any gap they make.
#   --scrape-every S: during the window, a full text scrape every S seconds
#                 (as Prometheus would; the RSS then includes what scrapes
#                 leave to the garbage collector), and the RSS is sampled
#                 every second: its maximum over the window is reported.
#   --target-napi: the target namespace answers in a kernel thread of its own
#                 (threaded NAPI) instead of inside the exporter's sendmmsg,
#                 as a remote host would: what the exporter's own work costs.
#                 Needs ethtool. The one target thread queues each send batch,
#                 so RTTs grow by up to a batch's processing time.
#   bench/scale.sh --n 1048576 --interval 10 --ipv6 --per-target up,counters --datapaths afpacket --no-fping
#                                # one million targets (multiples of 65536 as /112 blocks above 130048)
#   bench/scale.sh --smoke       # N=1000, 10 s, icmp only, 1 round: proves the script works
# See bench/README.md.
set -euo pipefail

ns_list="1000,5000,10000,50000,100000"
datapaths="icmp,afpacket"
duration=30
warmup=10
histmode=native
do_fping=1
do_perf=0
do_strace=1
target_napi=0
scrape_every=0
scrape_pid=""
runs=3
nice=0
smoke=0
bin=""
out=""
port=10427
interval=1
ipv6=0
per_target=""
reload_pct=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --n) ns_list=$2; shift 2 ;;
    --datapaths) datapaths=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --histogram) histmode=$2; shift 2 ;;
    --no-fping) do_fping=0; shift ;;
    --no-strace) do_strace=0; shift ;;
    --runs) runs=$2; shift 2 ;;
    --nice) nice=$2; shift 2 ;;
    --perf) do_perf=1; shift ;;
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --ipv6) ipv6=1; shift ;;
    --per-target) per_target=$2; shift 2 ;;
    --reload) reload_pct=$2; shift 2 ;;
    --target-napi) target_napi=1; shift ;;
    --scrape-every) scrape_every=$2; shift 2 ;;
    --smoke) smoke=1; ns_list=1000; datapaths=icmp; duration=10; warmup=3; runs=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "scale.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done

die() { echo "scale.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, raw sockets)"
for tool in ip curl awk; do command -v "$tool" >/dev/null || die "needs $tool (run scripts/deps.sh)"; done
[[ $duration =~ ^[0-9]+$ && $duration -ge 5 ]] || die "--duration must be whole seconds >= 5"
[[ $scrape_every =~ ^[0-9]+$ ]] || die "--scrape-every must be whole seconds (0: no scrapes in the window)"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup must be whole seconds"
[[ $runs =~ ^[0-9]+$ && $runs -ge 1 ]] || die "--runs must be a count >= 1"
[[ $interval =~ ^[0-9]+$ && $interval -ge 1 ]] || die "--interval must be whole seconds >= 1"
[[ -z $per_target || $per_target =~ ^[a-z]+(,[a-z]+)*$ ]] || die "--per-target must be a comma-separated list like up,counters"
[[ $reload_pct =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v p="$reload_pct" 'BEGIN { exit !(p >= 0 && p <= 50) }' \
  || die "--reload must be a percentage from 0 to 50"
[[ $nice =~ ^-?[0-9]+$ && $nice -ge -20 && $nice -le 19 ]] || die "--nice must be a niceness from -20 to 19"
case "$histmode" in native|classic|both|none) ;; *) die "--histogram must be native, classic, both or none" ;; esac
IFS=, read -r -a NS <<<"$ns_list"
# added_count N: how many targets --reload adds to N.
added_count() { awk -v n="$1" -v p="$reload_pct" 'BEGIN { printf "%d", n * p / 100 }'; }
IFS=, read -r -a DPS <<<"$datapaths"
maxn=0
for n in "${NS[@]}"; do
  if [ "$ipv6" = 1 ]; then
    # fd00:210::/64: listed one by one up to 130048, as /112 blocks above.
    [[ $n =~ ^[0-9]+$ && $n -ge 1 && ( $n -le 130048 || ( $((n % 65536)) -eq 0 && $n -le 16777216 ) ) ]] \
      || die "--n: $n is not a count from 1 to 130048, or a multiple of 65536 up to 16777216 (with --ipv6)"
  else
    [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 130048 ]] || die "--n: $n is not a count from 1 to 130048 (the lab prefix)"
  fi
  # --reload: the added targets follow the N in the lab prefix.
  extra=$(added_count "$n")
  if [ "$n" -le 130048 ]; then
    [ $((n + extra)) -le 130048 ] || die "--reload: $n targets plus $extra added do not fit the lab prefix (130048)"
  else
    [ "$extra" -lt 65536 ] || die "--reload: $extra added targets; at most 65535 above 130048 targets"
  fi
  [ "$n" -gt "$maxn" ] && maxn=$n
done
for dp in "${DPS[@]}"; do
  case "$dp" in icmp|afpacket|afxdp|auto) ;; *) die "--datapaths: unknown datapath $dp" ;; esac
done
if [ "$do_fping" = 1 ] && ! command -v fping >/dev/null; then
  echo "scale.sh: fping not installed, skipping it (apt-get install fping)" >&2; do_fping=0
fi
if [ "$do_strace" = 1 ] && ! command -v strace >/dev/null; then
  echo "scale.sh: strace not installed, no syscall counts (apt-get install strace)" >&2; do_strace=0
fi
if [ "$target_napi" = 1 ] && ! command -v ethtool >/dev/null; then
  die "--target-napi needs ethtool (apt-get install ethtool)"
fi
if [ "$do_perf" = 1 ] && ! command -v perf >/dev/null; then
  die "--perf needs perf (apt-get install linux-perf)"
fi

root=$(cd "$(dirname "$0")/.." && pwd)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$out" ] || out="$root/bench/results/$stamp"
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/icmpbench.XXXXXX)
suffix="$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
LAB="icmpbench-$suffix"
P="$LAB-p"
T="$LAB-t"
exp_pid=""
aux_pid=""
lag_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in $exp_pid $aux_pid $lag_pid $scrape_pid; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in $exp_pid $aux_pid $lag_pid $scrape_pid; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -x "$work/labnet" ]; then
    "$work/labnet" down -name "$LAB" || true
  fi
  for ns in "$P" "$T"; do
    [ -e "/run/netns/$ns" ] && ip netns delete "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# nap S: sleep S seconds in the background and wait for it, so that a
# signal ends the script (and cleans up) at once instead of after the sleep.
nap() { sleep "$1" & aux_pid=$!; wait "$aux_pid" || true; aux_pid=""; }
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
now() { date +%s.%N; }
# fcalc EXPR: floating-point arithmetic.
fcalc() { awk "function max0(x) { return x > 0 ? x : 0 } BEGIN { printf \"%s\", $1 }" 2>/dev/null; }

# ---- build ---------------------------------------------------------------
if [ -z "$bin" ]; then
  log "building the exporter (make build)"
  if [ "$do_perf" = 1 ]; then
    # Unstripped (no -s -w) so perf can name Go functions.
    make -s -C "$root" build BINARY="$work/icmp_exporter" \
      LDFLAGS="-X github.com/prometheus/common/version.Version=$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)-unstripped" >&2
  else
    make -s -C "$root" build BINARY="$work/icmp_exporter" >&2
  fi
  bin="$work/icmp_exporter"
fi
[ -x "$bin" ] || die "$bin is not executable"
GO=$(command -v go || echo /usr/local/go/bin/go)
(cd "$root" && CGO_ENABLED=0 "$GO" build -o "$work/scrapestat" ./bench/scrapestat) || die "build bench/scrapestat"
version=$("$bin" --version 2>&1 | head -1)

# ---- lab -----------------------------------------------------------------
# The lab of test/lab (its Go code, through test/lab/cmd/labnet), with a /15
# so that 100k targets fit.
log "building the lab: $P -> $T"
PREFIX=10.210.0.0/15
(cd "$root" && CGO_ENABLED=0 "$GO" build -o "$work/labnet" ./test/lab/cmd/labnet) || die "build test/lab/cmd/labnet"
"$work/labnet" up -name "$LAB" -prefix4 "$PREFIX" >"$work/lab.env" || die "labnet up failed"
# The network rule, checked: the probe namespace routes nothing but the lab.
routes=$(ip -n "$P" -4 route show | sort)
[ "$(wc -l <<<"$routes")" -eq 2 ] && grep -q "^10.210.0.0/15 via 10.250.255.2" <<<"$routes" \
  || die "probe namespace has unexpected routes: $routes"
[ -z "$(ip -n "$P" -6 route show | grep -v '^fd00:210::/64 via fd00:250::2 \|^fd00:250::/64 dev veth0 \|^fe80::/64\|^multicast\|^ff00::/8')" ] \
  || die "probe namespace has unexpected IPv6 routes: $(ip -n "$P" -6 route show)"

# --target-napi: the target namespace answers in a kernel thread of its own
# (threaded NAPI on its veth, real-time priority so that it runs at once),
# not inside the exporter's sendmmsg. On a plain veth the whole answer (the
# target's receive, its echo reply, our receive of it) runs as softirq work
# on the sending thread; a remote host does that work on its own CPUs.
# The veth only queues to NAPI when the sending side has no TSO/GSO.
if [ "$target_napi" = 1 ]; then
  ip netns exec "$P" ethtool -K veth0 tso off gso off >/dev/null || die "ethtool -K veth0 tso off gso off in $P"
  ip netns exec "$T" ethtool -K veth0 gro on >/dev/null || die "ethtool -K veth0 gro on in $T"
  before=$( (pgrep '^napi/' || true) | sort)
  ip netns exec "$T" sh -c 'echo 1 >/sys/class/net/veth0/threaded' || die "threaded NAPI on veth0 in $T"
  napi_pids=$(comm -13 <(echo "$before") <( (pgrep '^napi/' || true) | sort))
  [ -n "$napi_pids" ] || die "--target-napi: no NAPI thread appeared for veth0 in $T"
  for pid in $napi_pids; do chrt -f -p 50 "$pid" >/dev/null || die "chrt -f -p 50 $pid"; done
  log "target namespace answers in NAPI thread(s) $(echo $napi_pids) (SCHED_FIFO 50)"
fi

tmax=$((maxn + $(added_count "$maxn")))
# Targets: 10.210.0.1 .. skipping .0 and .255 of every /24 (130048 at most);
# with --ipv6 fd00:210::1 on (the target namespace answers the whole /64).
if [ "$ipv6" = 1 ]; then
  awk -v n="$tmax" 'BEGIN { for (c = 1; c <= n && c <= 130048; c++) printf "fd00:210::%x:%x\n", int(c / 65536), c % 65536 }' >"$work/targets"
else
  awk -v n="$tmax" 'BEGIN { c = 0
    for (b = 210; b <= 211 && c < n; b++) for (x = 0; x < 256 && c < n; x++) for (y = 1; y <= 254 && c < n; y++) { print "10." b "." x "." y; c++ } }' >"$work/targets"
fi
first_target=$(head -1 "$work/targets")
# extra_targets N K: the K targets a --reload adds to N: the next ones of the
# list, or (above 130048: IPv6 /112 blocks) the start of the block after the last.
extra_targets() {
  if [ "$1" -le 130048 ]; then
    sed -n "$(($1 + 1)),$(($1 + $2))p" "$work/targets"
  else
    awk -v b="$(($1 / 65536 + 1))" -v k="$2" 'BEGIN { for (j = 1; j <= k; j++) printf "fd00:210::%x:%x\n", b, j }'
  fi
}

# True RTT of the lab, idle: iputils ping from the probe namespace.
true_rtt="NA"
if command -v ping >/dev/null; then
  if pingout=$(ip netns exec "$P" ping -n -q -c 20 -i 0.05 "$first_target" 2>&1); then
    true_rtt=$(sed -n 's|.*= \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\) ms.*|min \1 / avg \2 / max \3 ms|p' <<<"$pingout")
  fi
  echo "$pingout" >"$out/ping.txt"
fi
log "lab true RTT (ping -c 20 -i 0.05, idle): $true_rtt"

# icmp_mib NS: "name value" lines of the Icmp MIB of namespace NS.
# With --ipv6 the ICMPv6 MIB, under the IPv4 names (OutEchos, InEchoReps, ...).
icmp_mib() {
  if [ "$ipv6" = 1 ]; then
    ip netns exec "$1" awk '$1 ~ /^Icmp6/ { k = substr($1, 6); sub(/Replies$/, "Reps", k); print k, $2 }' /proc/net/snmp6
  else
    ip netns exec "$1" awk '$1 == "Icmp:" { if (!h) { for (i = 2; i <= NF; i++) k[i] = $i; h = 1 } else { for (i = 2; i <= NF; i++) print k[i], $i } }' /proc/net/snmp
  fi
}
# runq_wait_ns PID: run-queue wait of all threads of PID so far (ns).
runq_wait_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%.0f", s }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
clk=$(getconf CLK_TCK)
url="http://127.0.0.1:$port/metrics"
# pcurl ARGS: curl inside the probe namespace.
pcurl() { ip netns exec "$P" curl -s --max-time 120 "$@"; }

# write_config N DATAPATH FILE [ADDED]: ADDED > 0 adds a group "added" with
# that many more targets (--reload).
write_config() {
  {
    echo "source:"
    echo "  name: bench"
    echo "engine:"
    echo "  datapath: $2"
    echo "  max_cidr_addresses: 131072"
    echo "  max_targets: 16777216"
    echo "defaults:"
    echo "  interval: ${interval}s"
    echo "  histogram:"
    echo "    mode: $histmode"
    if [ -n "$per_target" ]; then
      echo "  export:"
      echo "    per_target: [$per_target]"
    fi
    echo "groups:"
    echo "  - name: bench"
    echo "    targets:"
    if [ "$1" -le 130048 ]; then
      head -n "$1" "$work/targets" | sed 's/^/      - /'
    else # --ipv6 only: /112 blocks of fd00:210::/64 from fd00:210::1:0 on
      awk -v b="$(($1 / 65536))" 'BEGIN { for (i = 1; i <= b; i++) printf "      - \"fd00:210::%x:0/112\"\n", i }'
    fi
    if [ "${4:-0}" -gt 0 ]; then
      echo "  - name: added"
      echo "    targets:"
      extra_targets "$1" "$4" | sed 's/^/      - /'
    fi
  } >"$3"
}

# stop_exporter: SIGTERM, then SIGKILL after 30 s.
stop_exporter() {
  [ -n "$exp_pid" ] || return 0
  kill -TERM "$exp_pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$exp_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$exp_pid" 2>/dev/null || true
  wait "$exp_pid" 2>/dev/null || true
  exp_pid=""
}

rows=()
fping_rows=()
reload_rows=()
declare -A cpu_by   # "dp/N/round" -> exporter CPU µs per probe
declare -A series   # "metric dp/N" -> values of the rounds, space-separated
# note KEY VALUE: remember a figure of one round for the summary.
note() { series[$1]+="$2 "; }

# reload_once TAG CHANGE: POST /-/reload; prints CHANGE:HTTP-CODE:SECONDS.
reload_once() {
  local r
  r=$(pcurl -o /dev/null -w '%{http_code} %{time_total}' -X POST "http://127.0.0.1:$port/-/reload" || echo "000 NA")
  log "$1: reload $2 targets: HTTP ${r% *} after ${r#* } s"
  echo "$2:${r% *}:${r#* }"
}

# run_exporter N DATAPATH ROUND: one measured exporter run; appends a row.
run_exporter() {
  local n=$1 dp=$2 round=$3 tag="$2-$1-r$3"
  local cfg="$work/config-$tag.yml" lg="$out/exporter-$tag.log"
  write_config "$n" "$dp" "$cfg"
  log "$tag: starting the exporter"
  local t_start; t_start=$(now)
  local lifecycle=()
  [ "$(added_count "$n")" -gt 0 ] && lifecycle=(--web.enable-lifecycle)
  ip netns exec "$P" nice -n "$nice" "$bin" --config.file="$cfg" --web.listen-address="127.0.0.1:$port" --log.level=warn "${lifecycle[@]}" >"$lg" 2>&1 &
  exp_pid=$!
  local ready=0
  for _ in $(seq 1 1200); do
    kill -0 "$exp_pid" 2>/dev/null || break
    if [ "$(pcurl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/ready" || true)" = 200 ]; then ready=1; break; fi
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    tail -20 "$lg" >&2
    stop_exporter
    die "$tag: exporter did not become ready within 120 s (log: $lg)"
  fi
  local t_ready; t_ready=$(now)
  log "$tag: ready after $(fcalc "$t_ready - $t_start") s; warming up ${warmup}s"
  nap "$warmup"

  ip netns exec "$P" "$work/scrapestat" snap -url "$url" -out "$work/a-$tag.json"
  local c0 t0 c1 t1 w0 w1
  icmp_mib "$P" >"$work/mibp0"; icmp_mib "$T" >"$work/mibt0"
  c0=$(cpu_ticks "$exp_pid"); t0=$(now); w0=$(runq_wait_ns "$exp_pid")
  log "$tag: measuring ${duration}s"
  : >"$work/rss-$tag"
  if [ "$scrape_every" != 0 ]; then
    # Scrapes as Prometheus would make them, RSS sampled every second.
    (
      last=0
      while :; do
        t=$(date +%s)
        if [ $((t - last)) -ge "$scrape_every" ]; then pcurl -o /dev/null "$url" || true; last=$t; fi
        status_kb "$exp_pid" VmRSS >>"$work/rss-$tag" || true
        sleep 1
      done
    ) &
    scrape_pid=$!
  fi
  local reloads=""
  if [ "$(added_count "$n")" -gt 0 ]; then
    # Two reloads inside the window: add the targets, then remove them.
    local k third; k=$(added_count "$n"); third=$(fcalc "sprintf(\"%.1f\", $duration / 3)")
    # The schedule lag gauge holds the largest delay of the last 5 to 10 s:
    # read it every 4 s through the window so no reload's lag is missed.
    : >"$work/lag-$tag"
    while :; do
      pcurl "$url?name[]=icmp_engine_schedule_lag_seconds" | awk '$1 == "icmp_engine_schedule_lag_seconds" { print $2 }' >>"$work/lag-$tag" || true
      sleep 4
    done &
    lag_pid=$!
    write_config "$n" "$dp" "$cfg.added" "$k"
    nap "$third"
    cp "$cfg.added" "$cfg"
    reloads=$(reload_once "$tag" "+$k")
    nap "$third"
    write_config "$n" "$dp" "$cfg"
    reloads+=" $(reload_once "$tag" "-$k")"
    # The rest of the window; nothing when the reloads took longer.
    nap "$(fcalc "sprintf(\"%.3f\", max0($t0 + $duration - $(now)))")"
    kill "$lag_pid" 2>/dev/null || true
    wait "$lag_pid" 2>/dev/null || true
    lag_pid=""
    reloads+=" lag_max_ms:$(awk '{ if ($1 > m) m = $1 } END { printf "%.1f", m * 1000 }' "$work/lag-$tag")"
  else
    nap "$duration"
  fi
  c1=$(cpu_ticks "$exp_pid"); t1=$(now); w1=$(runq_wait_ns "$exp_pid")
  if [ -n "$scrape_pid" ]; then
    kill "$scrape_pid" 2>/dev/null || true
    wait "$scrape_pid" 2>/dev/null || true
    scrape_pid=""
  fi
  icmp_mib "$P" >"$work/mibp1"; icmp_mib "$T" >"$work/mibt1"
  local rss_kb load; rss_kb=$(status_kb "$exp_pid" VmRSS); load=$(cut -d' ' -f1-3 /proc/loadavg)
  ip netns exec "$P" "$work/scrapestat" snap -url "$url" -out "$work/b-$tag.json"
  # Text scrape (what curl or a Prometheus without native histograms gets),
  # with the exporter CPU it costs.
  local s0 s1 text
  s0=$(cpu_ticks "$exp_pid")
  text=$(pcurl -o /dev/null -w '%{time_total} %{size_download}' "$url")
  s1=$(cpu_ticks "$exp_pid")
  # Syscalls per probe: strace -c over 5 s (after the CPU window: tracing
  # slows the process), probes from the kernel's count of echo requests.
  local sc_calls="NA" sc_probes="NA"
  if [ "$do_strace" = 1 ]; then
    icmp_mib "$P" >"$work/mibs0"
    timeout -s INT 5 strace -c -f -q -p "$exp_pid" -o "$out/strace-$tag.txt" >/dev/null 2>&1 || true
    icmp_mib "$P" >"$work/mibs1"
    sc_calls=$(awk '/ total$/ { print $4 }' "$out/strace-$tag.txt" 2>/dev/null)
    sc_probes=$(paste -d' ' "$work/mibs0" "$work/mibs1" | awk '$1 == "OutEchos" { print $4 - $2 }')
  fi
  if [ "$do_perf" = 1 ] && [ "$n" = "$maxn" ] && [ "$round" = 1 ]; then
    log "$tag: perf record 15 s"
    perf record -q -F 199 -g -p "$exp_pid" -o "$work/perf-$tag.data" -- sleep 15 >/dev/null 2>&1 || true
    {
      perf report -i "$work/perf-$tag.data" --stdio --no-children -g none --sort dso 2>/dev/null | grep -v '^$' | head -20
      perf report -i "$work/perf-$tag.data" --stdio --no-children -g none --sort dso,symbol --percent-limit 0.5 2>/dev/null \
        | grep -v '^$' | head -80
      # Where the sending thread's time goes, inclusive of callees: the
      # sendmmsg, the softirq receive work run inside it (on a plain veth
      # the target's answer and our receive of it), the target's echo
      # reply, our ring's copy, our own receive and send code.
      echo "# inclusive (children) share of the samples"
      perf report -i "$work/perf-$tag.data" --stdio --children -g none --sort symbol 2>/dev/null \
        | grep -E '\] (__sys_sendmmsg|raw_sendmsg|rawv6_sendmsg|net_rx_action|process_backlog|icmp_echo|icmpv6_echo_reply|icmp_reply|ip_rcv|ipv6_rcv|tpacket_rcv|dev_queue_xmit_nit|veth_xmit|github.com/icmp-exporter/icmp_exporter/probe\.\(\*Engine\)\.(loop|drain)|github.com/icmp-exporter/icmp_exporter/probe\.\(\*core\)\.(handle|collect|expire)) ' || true
    } >"$out/perf-$tag.txt" || true
  fi
  local hwm_kb threads; hwm_kb=$(status_kb "$exp_pid" VmHWM); threads=$(status_kb "$exp_pid" Threads)
  kill -0 "$exp_pid" 2>/dev/null || die "$tag: the exporter died during the run (log: $lg)"
  stop_exporter

  "$work/scrapestat" diff "$work/a-$tag.json" "$work/b-$tag.json" >"$out/run-$tag.txt"
  local cpu_pct text_s text_bytes scrape_cpu
  cpu_pct=$(fcalc "($c1 - $c0) / $clk / ($t1 - $t0) * 100")
  read -r text_s text_bytes <<<"$text"
  scrape_cpu=$(fcalc "($s1 - $s0) / $clk")
  {
    echo "n=$n"
    echo "cpu_percent=$(fcalc "sprintf(\"%.1f\", $cpu_pct)")"
    echo "cpu_window_seconds=$(fcalc "$t1 - $t0")"
    echo "rss_kb=$rss_kb"
    echo "rss_window_max_kb=$(awk '$1 > m { m = $1 } END { print m + 0 }' "$work/rss-$tag")"
    echo "hwm_kb=$hwm_kb"
    echo "threads=$threads"
    echo "scrape_text_seconds=$text_s"
    echo "scrape_text_bytes=$text_bytes"
    echo "scrape_text_cpu_seconds=$scrape_cpu"
    echo "startup_seconds=$(fcalc "$t_ready - $t_start")"
    echo "loadavg=$load"
    # Time the exporter's threads were runnable but waiting for a CPU
    # (schedstat), as % of the window: > 0 means other load starved it.
    echo "runqueue_wait_percent=$(fcalc "sprintf(\"%.1f\", ($w1 - $w0) / 1e9 / ($t1 - $t0) * 100)")"
    echo "reloads=${reloads:-none}"
    echo "strace_syscalls=${sc_calls:-NA}"
    echo "strace_probes=${sc_probes:-NA}"
    if [[ ${sc_calls:-} =~ ^[0-9]+$ && ${sc_probes:-} =~ ^[0-9]+$ && ${sc_probes:-0} -gt 0 ]]; then
      echo "syscalls_per_probe=$(fcalc "sprintf(\"%.3f\", $sc_calls / $sc_probes)")"
    else
      echo "syscalls_per_probe=NA"
    fi
    # Kernel ICMP counters over the CPU window (no scrape in it): what the
    # target namespace answered and what reached the probe namespace.
    paste -d' ' "$work/mibt0" "$work/mibt1" | awk '{ printf "target_ns_%s=%.0f\n", $1, $4 - $2 }'
    paste -d' ' "$work/mibp0" "$work/mibp1" | awk '{ printf "probe_ns_%s=%.0f\n", $1, $4 - $2 }'
    ip netns exec "$P" cat /proc/net/icmp /proc/net/raw 2>/dev/null | awk 'NR > 1 && $NF ~ /^[0-9]+$/ { d += $NF } END { printf "socket_drops_total=%d\n", d }' 
  } >>"$out/run-$tag.txt"
  local -A r=()
  while IFS='=' read -r k v; do r[$k]=$v; done <"$out/run-$tag.txt"
  cpu_by["$dp/$n/$round"]=$(fcalc "sprintf(\"%.3f\", ${r[pps]} > 0 ? ${r[cpu_percent]} / 100 / ${r[pps]} * 1e6 : 0)")
  local k="$dp/$n"
  note "cpu $k" "${r[cpu_percent]}"; note "pps $k" "${r[pps]}"; note "skipped $k" "${r[skipped]}"
  note "lost $k" "${r[lost]}"; note "lag $k" "$(fcalc "sprintf(\"%.1f\", ${r[schedule_lag_seconds]} * 1000)")"
  note "rss $k" "$(fcalc "sprintf(\"%.0f\", ${r[rss_kb]}/1024)")"; note "hwm $k" "$(fcalc "sprintf(\"%.0f\", ${r[hwm_kb]}/1024)")"
  note "sysc $k" "${r[syscalls_per_probe]}"; note "p50 $k" "${r[rtt_p50_us]}"; note "p99 $k" "${r[rtt_p99_us]}"
  note "load $k" "${r[loadavg]%% *}"; note "rqwait $k" "${r[runqueue_wait_percent]}"
  rows+=("| $dp | $n | $round | ${r[pps]} | ${r[lost]} | ${r[skipped]} | ${r[rtt_p50_us]} / ${r[rtt_p99_us]} | ${r[cpu_percent]} | $(fcalc "sprintf(\"%.1f\", ${r[pps]} > 0 ? ${r[cpu_percent]} / 100 / ${r[pps]} * 1e6 : 0)") | $(fcalc "sprintf(\"%.0f / %.0f\", ${r[rss_kb]}/1024, ${r[hwm_kb]}/1024)") | $(fcalc "sprintf(\"%.2f / %.1f\", ${r[scrape_text_seconds]}, ${r[scrape_text_bytes]}/1048576)") | $(fcalc "sprintf(\"%.2f / %.1f\", ${r[scrape_proto_seconds]}, ${r[scrape_proto_bytes]}/1048576)") | $(fcalc "sprintf(\"%.1f\", ${r[schedule_lag_seconds]} * 1000)") | ${r[kernel_drops]} | ${r[mode]}, ${r[replies_by_timestamp_source]} | ${r[loadavg]%% *} | ${r[runqueue_wait_percent]} | ${r[syscalls_per_probe]} |")
  if [ -n "$reloads" ]; then
    local rl=${reloads% lag_max_ms:*}
    reload_rows+=("| $dp | $n | $round | $rl | ${r[skipped]} | ${r[lost]} | $(fcalc "sprintf(\"%.1f\", ${r[schedule_lag_seconds]} * 1000)") | ${reloads##*lag_max_ms:} |")
  fi
  log "$tag: ${r[pps]} probes/s, lost ${r[lost]}, skipped ${r[skipped]}, RTT p50 ${r[rtt_p50_us]} µs p99 ${r[rtt_p99_us]} µs, CPU ${r[cpu_percent]} %, RSS ${r[rss_kb]} kB (peak ${r[hwm_kb]}), text scrape ${text_s}s ${text_bytes} B$([ "$scrape_every" != 0 ] && echo ", RSS max in the window (a scrape every ${scrape_every} s) ${r[rss_window_max_kb]} kB")"
}

# run_fping N ROUND: fping on the same N targets for the same window.
run_fping() {
  local n=$1 round=$2 tag="fping-$1-r$2"
  head -n "$n" "$work/targets" >"$work/fping-targets"
  local iv; iv=$(fcalc "sprintf(\"%g\", 1000 * $interval / $n)")
  local cmd=(fping -q -c "$((duration / interval))" -p "$((1000 * interval))" -i "$iv" -f "$work/fping-targets")
  [ "$ipv6" = 1 ] && cmd=(fping -6 "${cmd[@]:1}")
  log "$tag: ${cmd[*]}"
  local rc=0
  # bash's time reports the CPU of the waited-for children (timeout, and
  # fping that `ip netns exec` execs into).
  { TIMEFORMAT='%R %U %S'; time timeout -s INT $((duration + 60)) ip netns exec "$P" nice -n "$nice" "${cmd[@]}" 2>"$work/fping.err" ; } 2>"$work/fping.time" || rc=$?
  local wall user sys
  read -r wall user sys <"$work/fping.time"
  local sent recv msg
  read -r sent recv < <(awk -F'xmt/rcv/%loss = ' 'NF > 1 { split($2, a, "[/,]"); s += a[1]; r += a[2] } END { printf "%d %d\n", s, r }' "$work/fping.err")
  msg=$(grep -v 'xmt/rcv' "$work/fping.err" | head -3 | tr '\n' ' ' | cut -c1-200 || true)
  cp "$work/fping.err" "$out/$tag.txt"
  local cpu; cpu=$(fcalc "sprintf(\"%.1f\", ($user + $sys) / $wall * 100)")
  local lostpct="NA"
  [ "$sent" -gt 0 ] && lostpct=$(fcalc "sprintf(\"%.2f\", ($sent - $recv) / $sent * 100)")
  local ratio=""
  for dp in "${DPS[@]}"; do
    # CPU per probe against CPU per ping: fping does not keep the rate at
    # thousands of targets, so CPU % of the two would compare different rates.
    local c=${cpu_by["$dp/$n/$round"]:-} fus
    fus=$(fcalc "sprintf(\"%.3f\", $sent > 0 ? ($user + $sys) / $sent * 1e6 : 0)")
    if [ -n "$c" ] && [ "$sent" -gt 0 ]; then
      ratio+="$dp $(fcalc "sprintf(\"%.2f\", $c / $fus)"); "
      note "ratio $dp/$n" "$(fcalc "sprintf(\"%.2f\", $c / $fus)")"
    fi
  done
  local result="exit $rc"
  [ "$rc" = 124 ] && result="killed after $((duration + 60)) s"
  note "fpingcpu $n" "$cpu"
  fping_rows+=("| $n | $round | $result | $(fcalc "sprintf(\"%.0f\", $sent / $wall)") | $sent | $recv | $lostpct | $cpu | $(fcalc "sprintf(\"%.1f\", $sent > 0 ? ($user + $sys) / $sent * 1e6 : 0)") | $(fcalc "sprintf(\"%.1f\", $wall)") | ${ratio%; } | ${msg:-} |")
  log "$tag: $result, sent $sent, received $recv, CPU $cpu % over ${wall}s ${msg:+($msg)}"
}

# ---- runs ----------------------------------------------------------------
uptime_start=$(uptime)
t_all=$(now)
for n in "${NS[@]}"; do
  for round in $(seq 1 "$runs"); do
    for dp in "${DPS[@]}"; do
      run_exporter "$n" "$dp" "$round"
    done
    if [ "$do_fping" = 1 ]; then run_fping "$n" "$round"; fi
  done
done
# Memory per target (spec, engine, collector) at the largest N, without the
# lab: bench/memstat probes an in-memory network.
log "memstat: bytes per target at N=$maxn"
(cd "$root" && "$GO" run ./bench/memstat -n "$maxn" -per-target "$per_target" -profile "$out/heap-memstat.pprof") >"$out/memstat.txt" 2>&1 || log "memstat failed (see $out/memstat.txt)"
"$GO" tool pprof -top -sample_index=inuse_space "$out/heap-memstat.pprof" 2>/dev/null | sed -n '6,20p' | cut -c1-140 >"$out/memstat-heap-top.txt" || true
uptime_end=$(uptime)

# ---- table ---------------------------------------------------------------
# spread KEY: "median [min–max]" of the values noted under KEY (NA when none).
spread() {
  # shellcheck disable=SC2086
  printf '%s\n' ${series[$1]:-} | awk '/^-?[0-9.]+(e[-+]?[0-9]+)?$/ { v[n++] = $1 + 0 }
    END { if (n == 0) { printf "NA"; exit }
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      m = (n % 2) ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
      if (n == 1) printf "%g", m; else printf "%g [%g–%g]", m, v[0], v[n - 1] }'
}
md="$out/results.md"
{
  echo "## icmp_exporter scale benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "- exporter: $version"
  echo "- machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r), $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2/1048576 }' /proc/meminfo)"
  echo "- load: start \`$(sed 's/^ *//' <<<"$uptime_start")\`, end \`$(sed 's/^ *//' <<<"$uptime_end")\`"
  echo "- command: \`bench/scale.sh --n $ns_list --datapaths $datapaths --duration $duration --warmup $warmup --runs $runs --nice $nice --histogram $histmode --interval $interval$([ "$ipv6" = 1 ] && echo ' --ipv6')${per_target:+ --per-target $per_target}$([ "$reload_pct" != 0 ] && echo " --reload $reload_pct")$([ "$do_fping" = 1 ] || echo ' --no-fping')$([ "$do_perf" = 1 ] && echo ' --perf')$([ "$target_napi" = 1 ] && echo ' --target-napi')$([ "$scrape_every" != 0 ] && echo " --scrape-every $scrape_every")\` (total $(fcalc "sprintf(\"%.0f\", ($(now) - $t_all) / 60)") min)"
  echo "- interval $interval s, IPv$([ "$ipv6" = 1 ] && echo 6 || echo 4) targets, per-target series: ${per_target:-all}, histogram mode \`$histmode\`, window ${duration} s after ${warmup} s warm-up"
  echo "- lab true RTT (iputils ping -c 20 -i 0.05 from the probe namespace, idle lab): $true_rtt"
  [ "$target_napi" = 1 ] && echo "- the target namespace answered in its own NAPI thread (--target-napi), not on the exporter's sending thread"
  echo
  echo "| datapath | N | round | probes/s | lost | skipped | RTT p50 / p99 µs | CPU % of 1 core | CPU µs / probe | RSS / peak MB | text scrape s / MB | protobuf scrape s / MB | max schedule lag ms | kernel drops | mode, replies by timestamp source | load 1m | run-queue wait % | syscalls / probe |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  if [ "${#fping_rows[@]}" -gt 0 ]; then
    echo
    echo "fping 5.x on the same targets, right after the exporter runs of the same N: \`fping -q -c $duration -p 1000 -i 1000/N -f targets\`"
    echo
    echo "| N | round | fping result | pings/s | sent | received | loss % | fping CPU % of 1 core | CPU µs / ping | wall s | exporter CPU per probe / fping CPU per ping | fping messages |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${fping_rows[@]}"
  fi
  echo
  echo "Summary over $runs round(s): median [min–max]. CPU ratio: the exporter's CPU per probe / fping's CPU per ping, in the same round."
  echo
  echo "| datapath | N | probes/s | lost | skipped | max schedule lag ms | CPU % of 1 core | CPU ratio to fping | syscalls / probe | RSS MB | peak RSS MB | RTT p50 / p99 µs | load 1m | run-queue wait % |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for n in "${NS[@]}"; do
    for dp in "${DPS[@]}"; do
      k="$dp/$n"
      echo "| $dp | $n | $(spread "pps $k") | $(spread "lost $k") | $(spread "skipped $k") | $(spread "lag $k") | $(spread "cpu $k") | $(spread "ratio $k") | $(spread "sysc $k") | $(spread "rss $k") | $(spread "hwm $k") | $(spread "p50 $k") / $(spread "p99 $k") | $(spread "load $k") | $(spread "rqwait $k") |"
    done
  done
  if [ "${#reload_rows[@]}" -gt 0 ]; then
    echo
    echo "Reloads inside the window (--reload $reload_pct): change (targets added or removed) : HTTP status : seconds until POST /-/reload answered; the window's skipped, lost and largest schedule lag include them."
    echo
    echo "| datapath | N | round | reloads | skipped | lost | max schedule lag ms (end of window) | max schedule lag ms (read every 4 s through the window) |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${reload_rows[@]}"
  fi
  if [ -s "$out/memstat.txt" ]; then
    echo
    echo "Memory per target (bench/memstat, N=$maxn, in-memory network, live heap after GC):"
    echo
    echo '```'
    cat "$out/memstat.txt"
    echo
    echo "heap profile, in-use space, top consumers:"
    cat "$out/memstat-heap-top.txt"
    echo '```'
  fi
} >"$md"
cat "$md"
echo
echo "raw figures: $out"

if [ "$smoke" = 1 ]; then
  # The smoke run proves the script and the lab work end to end.
  f="$out/run-icmp-1000-r1.txt"
  [ -f "$f" ] || die "smoke: no result for icmp at 1000 targets"
  get() { sed -n "s/^$1=//p" "$f"; }
  [ "$(get packets_sent)" -gt 0 ] || die "smoke: nothing sent"
  [ "$(get replies)" -gt 0 ] || die "smoke: no replies"
  [ "$(get rtt_p99_us)" != NA ] || die "smoke: no RTT quantiles"
  [ "$(get targets)" = 1000 ] || die "smoke: engine reports $(get targets) targets, want 1000"
  grep -q '^| icmp | 1000 | 1 |' "$md" || die "smoke: table row missing"
  echo "smoke: ok (lost $(get lost), skipped $(get skipped))"
fi
