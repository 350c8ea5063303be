#!/usr/bin/env bash
# Debian's prometheus (server + promtool) and prometheus-alertmanager (amtool), unpacked into
# .cache/prometheus without installing the packages: installing them would start services listening
# on all interfaces. Binaries are linked into .cache/bin, which scripts/test.sh puts on PATH.
# Idempotent: does nothing when the binaries are already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD/.cache/prometheus"
bin="$PWD/.cache/bin"
mkdir -p "$root" "$bin"
link() {
  # link NAME: symlink .cache/bin/NAME to the unpacked binary.
  ln -sf "$root/usr/bin/$1" "$bin/$1"
}
fetch() {
  # fetch PACKAGE: download the .deb and unpack it into $root.
  local pkg=$1 tmp rc=0
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq "$pkg" 2>/dev/null) ||
    { apt-get update -qq && (cd "$tmp" && apt-get download -qq "$pkg"); } || rc=$?
  [ "$rc" -eq 0 ] && dpkg -x "$tmp"/"$pkg"_*.deb "$root" || rc=$?
  rm -rf "$tmp"
  return "$rc"
}
if [ ! -x "$root/usr/bin/prometheus" ] || [ ! -x "$root/usr/bin/promtool" ]; then
  fetch prometheus
fi
if [ ! -x "$root/usr/bin/amtool" ]; then
  fetch prometheus-alertmanager
fi
for b in prometheus promtool amtool; do link "$b"; done
"$bin/prometheus" --version 2>&1 | head -1
