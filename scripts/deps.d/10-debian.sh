#!/usr/bin/env bash
# Debian packages the tests use: iproute2 (network namespaces), nftables (loss and
# outages), fping and ping (side-by-side benchmark), strace (syscalls per probe in the
# benchmark), curl.
set -euo pipefail
need=()
for p in iproute2 nftables fping iputils-ping strace curl make; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
