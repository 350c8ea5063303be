#!/usr/bin/env bash
# Headless Chromium and chromedriver (Debian's packages) for the browser test
# of the status pages (internal/ui/browser_test.go). chromium-driver pulls the
# matching chromium version.
set -euo pipefail
need=()
for p in chromium chromium-driver fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
