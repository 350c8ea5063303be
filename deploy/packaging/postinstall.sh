#!/bin/sh
# Package post-install: let systemd see the unit; the service is enabled and
# started by the administrator (systemctl enable --now icmp_exporter).
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  if systemctl is-active --quiet icmp_exporter; then
    systemctl try-restart icmp_exporter || true
  fi
fi
