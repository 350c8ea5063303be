#!/usr/bin/env bash
# scripts/run.sh (behind `make run`) starts the binary as root, for a binary
# with cap_net_raw, and for a user inside net.ipv4.ping_group_range; anyone
# else gets the three remedies and exit status 1. Runs as root; the
# unprivileged cases run as nobody inside a new network namespace, which has
# its own ping_group_range, so the host's setting is neither read nor changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
  echo "60-run-sh: needs root (setcap, unshare, setpriv)"; exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
cp scripts/run.sh "$tmp/run.sh"
printf '#!/bin/sh\necho "started $*"\n' > "$tmp/fake"
chmod 755 "$tmp/run.sh" "$tmp/fake"
cp "$tmp/fake" "$tmp/fake-cap"
setcap cap_net_raw+ep "$tmp/fake-cap"

fail=0
# check NAME WANT_RC WANT_TEXT CMD...
check() {
  local name=$1 want_rc=$2 want=$3; shift 3
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -ne "$want_rc" ] || ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want_rc), output:"; echo "$out" | sed 's/^/    /'
    echo "    want text: $want"
    fail=1
  else
    echo "ok   $name"
  fi
}
# as_nobody RANGE CMD...: run CMD as nobody in a new netns whose ping_group_range is RANGE.
as_nobody() {
  local range=$1; shift
  unshare -n -- sh -c 'echo "$1" > /proc/sys/net/ipv4/ping_group_range && shift && exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"' \
    sh "$range" "$@"
}

check "root starts it with its arguments" 0 "started --config.file=x.yml --a" \
  bash "$tmp/run.sh" "$tmp/fake" --config.file=x.yml --a
check "prints the status page URL" 0 "open http://localhost:10427/ui/" bash "$tmp/run.sh" "$tmp/fake"
check "status page URL follows the listen address" 0 "open http://127.0.0.1:9999/ui/" \
  bash "$tmp/run.sh" "$tmp/fake" --web.listen-address=127.0.0.1:9999
check "missing binary" 1 "is not an executable file" bash "$tmp/run.sh" "$tmp/nope"
check "no binary given" 2 "usage:" bash "$tmp/run.sh"
check "unprivileged user gets the remedies (sudo)" 1 "sudo make run" as_nobody "1 0" bash "$tmp/run.sh" "$tmp/fake"
check "unprivileged user gets the remedies (setcap)" 1 "sudo setcap cap_net_raw+ep $tmp/fake" as_nobody "1 0" bash "$tmp/run.sh" "$tmp/fake"
check "unprivileged user gets the remedies (sysctl)" 1 'sudo sysctl -w net.ipv4.ping_group_range="0 2147483647"' as_nobody "1 0" bash "$tmp/run.sh" "$tmp/fake"
check "binary with cap_net_raw starts" 0 "started -x" as_nobody "1 0" bash "$tmp/run.sh" "$tmp/fake-cap" -x
check "group inside ping_group_range starts" 0 "started -y" as_nobody "0 2147483647" bash "$tmp/run.sh" "$tmp/fake" -y
check "range not covering the group refuses" 1 "sudo make run" as_nobody "0 1000" bash "$tmp/run.sh" "$tmp/fake"
exit $fail
