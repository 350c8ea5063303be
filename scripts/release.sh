#!/usr/bin/env bash
# Builds the release artefacts of HEAD with goreleaser into dist/: archives for
# linux/amd64, linux/arm64 and linux/armv7, sha256sums.txt, Debian and RPM
# packages. Without a tag on HEAD it is a snapshot (version X.Y.Z-snapshot.<commit>);
# nothing is ever published. Then it checks the result:
#   - goreleaser check accepts .goreleaser.yaml;
#   - every artefact is listed in sha256sums.txt and matches it;
#   - each archive holds a static binary for its architecture plus LICENSE,
#     NOTICE, README.md, CHANGELOG.md, config.example.yml and the unit;
#   - the amd64 binary reports the version and the commit;
#   - the .deb packages install /usr/bin/icmp_exporter, the systemd unit,
#     /etc/default/icmp_exporter and the configuration as conffiles;
#   - the build is reproducible: a second build of the amd64 binary from a
#     fresh clone gives the same bytes.
# Usage: scripts/release.sh [OUTDIR]   (default: dist/)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=v2.17.0
gr="$root/.cache/bin/goreleaser-$version"
[ -x "$gr" ] || bash scripts/deps.d/60-goreleaser.sh
out=${1:-$root/dist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Build from a clean clone of HEAD: uncommitted files never enter a release.
rev=$(git rev-parse HEAD)
git clone -q "$root" "$tmp/src"
git -C "$tmp/src" checkout -q "$rev"
cd "$tmp/src"
"$gr" check
start=$(date +%s)
GOFLAGS=-buildvcs=true "$gr" release --snapshot --clean --skip=publish,sign,sbom,docker >"$tmp/goreleaser.log" 2>&1 ||
  { tail -40 "$tmp/goreleaser.log"; echo "goreleaser release --snapshot failed"; exit 1; }
echo "goreleaser snapshot: $(( $(date +%s) - start ))s"
rm -rf "$out"
mkdir -p "$out"
cp dist/*.tar.gz dist/*.deb dist/*.rpm dist/sha256sums.txt "$out/"
cd "$out"

fail() { echo "release check: $*"; exit 1; }
sha256sum --quiet -c sha256sums.txt || fail "sha256sums.txt does not match the artefacts"
for f in *.tar.gz *.deb *.rpm; do
  grep -q "  $f\$" sha256sums.txt || fail "$f is not in sha256sums.txt"
done

declare -A machine=([amd64]="X86-64" [arm64]="AArch64" [armv7]="ARM")
for arch in amd64 arm64 armv7; do
  a=$(ls icmp_exporter-*.linux-"$arch".tar.gz 2>/dev/null) || fail "no archive for linux/$arch"
  d="$tmp/x-$arch"
  mkdir -p "$d"
  tar -xzf "$a" -C "$d"
  top="$d/${a%.tar.gz}"
  for f in icmp_exporter LICENSE NOTICE README.md CHANGELOG.md config.example.yml icmp_exporter.service; do
    [ -e "$top/$f" ] || fail "$a lacks $f"
  done
  m=$(readelf -h "$top/icmp_exporter" | sed -n 's/^ *Machine: *//p')
  [[ "$m" == *"${machine[$arch]}"* ]] || fail "$a: binary is for $m, not $arch"
  readelf -l "$top/icmp_exporter" | grep -q INTERP && fail "$a: binary is dynamically linked"
  echo "$a: $(du -h "$a" | cut -f1), static $m binary"
  [ "$arch" = amd64 ] && amd64bin="$top/icmp_exporter"
  for p in deb rpm; do
    ls icmp-exporter*"$([ $p = deb ] && { [ $arch = armv7 ] && echo armhf || echo $arch; } || { case $arch in amd64) echo x86_64;; arm64) echo aarch64;; armv7) echo armv7hl;; esac; })".$p >/dev/null 2>&1 ||
      fail "no .$p package for linux/$arch"
  done
done

v=$("$amd64bin" --version 2>&1)
grep -q "revision: $rev" <<<"$v" || fail "--version does not show revision $rev: $v"
echo "amd64 binary: $(head -n1 <<<"$v")"

deb=$(ls icmp-exporter_*_amd64.deb)
dpkg-deb -c "$deb" >"$tmp/deb.list"
for f in ./usr/bin/icmp_exporter ./usr/lib/systemd/system/icmp_exporter.service ./etc/default/icmp_exporter ./etc/icmp_exporter/config.yml; do
  grep -q " $f\$" "$tmp/deb.list" || fail "$deb lacks $f"
done
dpkg-deb -I "$deb" conffiles >"$tmp/conffiles"
for f in /etc/default/icmp_exporter /etc/icmp_exporter/config.yml; do
  grep -qx "$f" "$tmp/conffiles" || fail "$deb: $f is not a conffile"
done
echo "$deb: binary, unit, /etc/default file and configuration (conffiles)"

# Reproducible: the amd64 binary again, from another clone, another directory.
git clone -q "$root" "$tmp/src2"
git -C "$tmp/src2" checkout -q "$rev"
(cd "$tmp/src2" && GOFLAGS=-buildvcs=true GOOS=linux GOARCH=amd64 "$gr" build --snapshot --clean --single-target --id icmp_exporter -o "$tmp/again" >"$tmp/build2.log" 2>&1) ||
  { tail -20 "$tmp/build2.log"; fail "second build failed"; }
a=$(sha256sum <"$amd64bin" | cut -d' ' -f1)
b=$(sha256sum <"$tmp/again" | cut -d' ' -f1)
[ "$a" = "$b" ] || fail "not reproducible: amd64 binary $a, rebuilt $b"
echo "reproducible: amd64 binary rebuilt from a second clone is identical ($a)"
ls -1 "$out"
