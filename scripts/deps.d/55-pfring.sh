#!/usr/bin/env bash
# What the pfring compile check (scripts/test.d/55-pfring.sh) needs besides a C
# compiler: libpcap's headers and library. gopacket/pfring links -lpcap
# (libpfring compiles BPF filters with it) and the pfring tests compile the
# datapath's filter with libpcap (gopacket/pcap).
set -euo pipefail
if ! dpkg-query -W -f='${Status}' libpcap-dev 2>/dev/null | grep -q 'install ok installed'; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends libpcap-dev
fi
