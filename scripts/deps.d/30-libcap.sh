#!/usr/bin/env bash
# getcap/setcap (libcap2-bin): scripts/run.sh reads the binary's file
# capabilities, and scripts/test.d/60-run-sh.sh sets them.
set -euo pipefail
if ! dpkg-query -W -f='${Status}' libcap2-bin 2>/dev/null | grep -q 'install ok installed'; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends libcap2-bin
fi
