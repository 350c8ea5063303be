#!/usr/bin/env bash
# The pfring datapath (build tag `pfring`, cgo), checked honestly without
# PF_RING: pf_ring.ko cannot load on this machine and PF_RING is not packaged
# by Debian. test/pfringstub holds a header of the documented PF_RING API
# that gopacket/pfring and probe/datapath_pfring.go use, and a stand-in
# libpfring.a whose pfring_open fails with EAFNOSUPPORT, as libpfring does
# without pf_ring.ko. Against it this part
#   - builds every package and the exporter with -tags pfring (cgo type-checks
#     all calls into libpfring) and runs go vet on probe with the tag;
#   - runs probe's pfring tests with the race detector: the filter compiled by
#     libpcap, frame decoding and Close over a fake ring, the whole datapath
#     over a pcap handle in a lab namespace (root), and New failing with the
#     "not loaded" error;
#   - runs the tagged exporter with `engine: {datapath: pfring}` and checks it
#     exits with that error instead of crashing.
# Nothing here ever captures through PF_RING (see docs/pfring.md). On a host
# with PF_RING installed, scripts/test.d/50-build.sh builds against the real
# library.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

test/pfringstub/build.sh "$tmp/stub" >/dev/null
export CGO_ENABLED=1 CGO_CFLAGS="-I$PWD/test/pfringstub/include" CGO_LDFLAGS="-L$tmp/stub"

go build -tags pfring ./...
go vet -tags pfring ./probe
echo "go build -tags pfring ./... and go vet -tags pfring ./probe against the stub: ok"

go test -tags pfring -race -count=1 -timeout 10m -run 'PFRing' ./probe

go build -tags pfring -o "$tmp/icmp_exporter-pfring" .
cat >"$tmp/config.yml" <<'YAML'
engine:
  datapath: pfring
  interface: lo
groups:
  - name: self
    targets: [127.0.0.1]
YAML
set +e
out=$(timeout 60 "$tmp/icmp_exporter-pfring" --config.file="$tmp/config.yml" --web.listen-address=127.0.0.1:0 2>&1)
rc=$?
set -e
if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ] || ! grep -q 'modprobe pf_ring' <<<"$out"; then
  echo "icmp_exporter -tags pfring with datapath pfring: want a clean exit with the 'PF_RING not loaded' error, got rc=$rc:"
  echo "$out"
  exit 1
fi
echo "icmp_exporter -tags pfring, datapath pfring without PF_RING: exits $rc with: $(grep -o 'pfring datapath:.*' <<<"$out" | head -n1)"
