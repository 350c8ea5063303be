#!/usr/bin/env bash
# Usage: scripts/run.sh BINARY [ARGS...]   (used by `make run`)
#
# Starts the exporter when it can send ICMP echo requests: when running as
# root, when BINARY has the cap_net_raw file capability, or when
# net.ipv4.ping_group_range includes one of the user's groups (ping sockets).
# Otherwise it prints the ways to allow it and exits 1.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BINARY [ARGS...]" >&2
  exit 2
fi
bin=$1
shift

# start BINARY ARGS...: print where the status pages are, then exec.
start() {
  local listen=":10427" ui=1 a
  for a in "${@:2}"; do
    case $a in
      --web.listen-address=*) listen=${a#*=} ;;
      --no-web.ui.enabled | --web.ui.enabled=false) ui=0 ;;
    esac
  done
  local host=${listen%:*} port=${listen##*:}
  case $host in "" | 0.0.0.0 | "[::]") host=localhost ;; esac
  if [ "$ui" -eq 1 ]; then
    echo "icmp_exporter: open http://$host:$port/ui/ for the RTT graphs (first points within a minute); metrics at http://$host:$port/metrics" >&2
  fi
  exec "$@"
}
if [ ! -x "$bin" ]; then
  echo "$0: $bin is not an executable file (build it with: make build)" >&2
  exit 1
fi

# Root: raw sockets work (and the exporter can widen nothing it needs).
if [ "$(id -u)" -eq 0 ]; then
  start "$bin" "$@"
fi

# File capability cap_net_raw on the binary.
getcap_bin=$(command -v getcap || true)
for p in /usr/sbin/getcap /sbin/getcap; do
  [ -z "$getcap_bin" ] && [ -x "$p" ] && getcap_bin=$p
done
if [ -n "$getcap_bin" ]; then
  # Output like "./icmp_exporter cap_net_raw=ep" or "... cap_net_admin,cap_net_raw+ep".
  caps=$("$getcap_bin" "$bin" 2>/dev/null || true)
  for clause in ${caps#"$bin"}; do
    names=${clause%%[=+-]*}
    flags=${clause#"$names"}
    if [[ ",$names," == *",cap_net_raw,"* || $names == "" || $names == "all" ]] &&
       [[ $flags == *e* && $flags == *p* ]]; then
      start "$bin" "$@"
    fi
  done
  caps_known=1
else
  caps_known=0
fi

# Ping sockets: one of our groups inside net.ipv4.ping_group_range.
if read -r lo hi < /proc/sys/net/ipv4/ping_group_range 2>/dev/null; then
  for g in $(id -G); do
    if [ "$g" -ge "$lo" ] && [ "$g" -le "$hi" ]; then
      start "$bin" "$@"
    fi
  done
fi

if [ "$caps_known" -eq 0 ]; then
  # Without getcap we cannot see file capabilities: let the exporter try; it
  # prints the same remedies if it cannot open a socket.
  echo "$0: getcap not found (package libcap2-bin); cannot check the capabilities of $bin, starting it anyway" >&2
  start "$bin" "$@"
fi

cat >&2 <<MSG
icmp_exporter needs permission to send ICMP echo requests, and this user
($(id -un), groups $(id -G | tr ' ' ',')) has none. Any one of these works:

  1. run it as root:
       sudo make run
  2. grant raw sockets to the binary (once per build):
       sudo setcap cap_net_raw+ep $bin
  3. allow ping sockets for all groups (until reboot; add it to
     /etc/sysctl.d/ to keep it):
       sudo sysctl -w net.ipv4.ping_group_range="0 2147483647"
MSG
exit 1
