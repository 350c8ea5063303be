#!/bin/sh
# Package pre-remove: stop and disable the service when the package is removed
# (not on upgrade).
set -e
case "$1" in
  remove|0)
    if [ -d /run/systemd/system ]; then
      systemctl disable --now icmp_exporter >/dev/null 2>&1 || true
    fi
    ;;
esac
