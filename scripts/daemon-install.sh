#!/bin/sh
# Installs the autoharden daemon from a checkout into the running system (run as root, e.g. inside
# a test box): the unit and the bus policy from systemd/, and a drop-in pointing ExecStart at the
# checkout's build (`npx tsc -p .` first). Starts it unless --no-start.
#   scripts/daemon-install.sh [--no-start] [CHECKOUT]     (default CHECKOUT: /run/autoharden-src)
set -eu
start=1
if [ "${1:-}" = --no-start ]; then start=0; shift; fi
SRC=${1:-/run/autoharden-src}
[ -f "$SRC/dist/cli/main.js" ] || { echo "daemon-install: $SRC/dist/cli/main.js missing; build first (npx tsc -p .)" >&2; exit 1; }
install -D -m 0644 "$SRC/systemd/autoharden.service" /etc/systemd/system/autoharden.service
install -D -m 0644 "$SRC/systemd/org.autoharden1.conf" /etc/dbus-1/system.d/org.autoharden1.conf
mkdir -p /etc/systemd/system/autoharden.service.d
printf '[Service]\nExecStart=\nExecStart=/usr/bin/node %s/dist/cli/main.js daemon\n' "$SRC" \
  > /etc/systemd/system/autoharden.service.d/checkout.conf
# dbus-daemon rereads its policy on inotify too; ask explicitly so that it is in force now.
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
systemctl daemon-reload
if [ "$start" = 1 ]; then systemctl start autoharden.service; fi
