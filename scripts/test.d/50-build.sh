#!/usr/bin/env bash
# The release build, exactly as the README and the Dockerfile run it
# (`make build`; deploy/dockerfile_test.go checks the Dockerfile's copy of the
# command), then checks that the binary is static and carries its version.
# The pfring build (cgo, libpfring) against the real PF_RING is compiled only
# where PF_RING's headers and library are installed (they are not packaged by
# Debian); everywhere else 55-pfring.sh compile-checks it against the
# stand-in header and library of test/pfringstub.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make build BINARY="$tmp/icmp_exporter" VERSION=v0.0.0-ci REVISION=ci
if ldd "$tmp/icmp_exporter" >/dev/null 2>&1; then
  echo "icmp_exporter is dynamically linked; the default build must be static (CGO_ENABLED=0)"
  ldd "$tmp/icmp_exporter"
  exit 1
fi
out=$("$tmp/icmp_exporter" --version 2>&1 || true)
if ! grep -q 'v0.0.0-ci' <<<"$out"; then
  echo "icmp_exporter --version does not report the version stamped by make build:"
  echo "$out"
  exit 1
fi
echo "make build: static binary, version: $(head -n1 <<<"$out")"

# A plain `go build` (no ldflags) in a git clone still reports a real version
# and revision, from the Go build information (internal/buildinfo). Built in
# a clone of HEAD: the VCS stamp needs a plain checkout.
if git rev-parse HEAD >/dev/null 2>&1; then
  rev=$(git rev-parse HEAD)
  git clone -q "$PWD" "$tmp/src"
  (cd "$tmp/src" && git checkout -q "$rev" && GOFLAGS=-buildvcs=true CGO_ENABLED=0 go build -o "$tmp/plain" .)
  out=$("$tmp/plain" --version 2>&1)
  v=$(sed -n 's/.*, version \([^ ]*\) .*/\1/p' <<<"$out" | head -n1)
  if [ -z "$v" ] || [ "$v" = devel ] || ! grep -q "revision: $rev" <<<"$out"; then
    echo "plain go build: --version does not show a version and revision $rev from the build information:"
    echo "$out"
    exit 1
  fi
  echo "plain go build: version $v, revision $rev"
fi

# The pfring tag without cgo must still build (the pfring datapath then
# reports ErrNotSupported), so a wrong build tag cannot break the default build.
CGO_ENABLED=0 go build -tags pfring -o "$tmp/icmp_exporter-pfring-nocgo" .
echo "go build -tags pfring (no cgo): ok"

if echo '#include <pfring.h>' | cc -E -x c - -I/usr/local/include >/dev/null 2>&1 \
   && { ldconfig -p | grep -q libpfring || [ -e /usr/local/lib/libpfring.so ]; }; then
  CGO_ENABLED=1 CGO_CFLAGS="-I/usr/local/include" CGO_LDFLAGS="-L/usr/local/lib" \
    go build -tags pfring -trimpath -o "$tmp/icmp_exporter-pfring" .
  echo "pfring build (cgo, libpfring): ok"
else
  echo "pfring build (cgo, real libpfring): not compiled, PF_RING headers/library not installed (see Dockerfile.pfring; 55-pfring.sh checks it against test/pfringstub)"
fi
