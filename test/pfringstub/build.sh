#!/usr/bin/env bash
# Builds the stand-in libpfring.a into DIR (default: a new temporary
# directory) and prints the directory; its include/ holds pfring.h. Use:
#   stub=$(test/pfringstub/build.sh)
#   CGO_CFLAGS="-I$PWD/test/pfringstub/include" CGO_LDFLAGS="-L$stub" \
#     go build -tags pfring ./...
# Only a static archive is built, so binaries linked against it need no
# LD_LIBRARY_PATH (and cannot pick up a real libpfring.so by accident).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(mktemp -d -t pfringstub.XXXXXX)}
mkdir -p "$out"
${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -O2 -fPIC -I"$here/include" -c "$here/pfring_stub.c" -o "$out/pfring_stub.o"
rm -f "$out/libpfring.a"
ar rcs "$out/libpfring.a" "$out/pfring_stub.o"
rm -f "$out/pfring_stub.o"
echo "$out"
