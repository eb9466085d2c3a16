#!/usr/bin/env bash
# Installs what autoharden's demo and tests need on a fresh Debian 12 (run as root), then npm ci
# and the build. Idempotent; removes nothing the machine had; starts no server on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
# Servers the demo and tests run inside throwaway boxes, plus what a box needs (systemd as its
# PID 1, a system bus, ip, nsenter/unshare, pgrep). The safety tests also run sshd (with login
# sessions registered by pam_systemd) and redis-cli / ssh as probes. The cost benchmark
# (bench/cost.sh) loads redis with redis-benchmark (redis-tools) and nginx with wrk, and compiles
# the cost sample (sample/autoharden-burner.c) with cc. The export tests read the exports with
# ansible-playbook, ansible-lint and nix-instantiate (test/integration/export-tools.test.ts).
# The fleet test drives ansible/site.yml with ansible-playbook over ssh into boxes running sshd
# (test/integration/fleet.test.ts).
# The HTML report is screenshot in headless chromium (test/integration/report-chromium.test.ts).
# The Debian package is checked with lintian (test/integration/deb.test.ts).
PKGS=(systemd dbus iproute2 util-linux procps nginx-light memcached redis-server redis-tools
  openssh-server openssh-client libpam-systemd wrk gcc libc6-dev ansible-core ansible-lint nix-bin
  chromium lintian)
# `--bench`: also the servers only the downtime benchmark tunes (bench/downtime.sh)
[ "${1:-}" != --bench ] || PKGS+=(caddy mariadb-server postgresql)
die() { echo "install-deps.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "install-deps.sh: run as root" >&2; exit 4; }
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are required"
# package.json's engines: Debian 12's own nodejs is 18; Debian 13's is 20.19
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
  || die "Node >= 20.19 required, found $(node --version) (Debian 12: install a newer Node; Debian 13's nodejs is enough)"

policy=/usr/sbin/policy-rc.d
policy_backup=
policy_ours=
restore_policy() {
  [ -n "$policy_ours" ] || return 0
  rm -f "$policy"
  [ -z "$policy_backup" ] || mv -f "$policy_backup" "$policy"
  policy_ours=
}
trap restore_policy EXIT

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps.sh: apt-get install ${missing[*]}" >&2
  # policy-rc.d exiting 101 keeps maintainer scripts from starting the servers on this machine.
  if [ -e "$policy" ]; then policy_backup=$(mktemp /var/tmp/autoharden.policy-rc.d.XXXXXX); cp -a "$policy" "$policy_backup"; fi
  policy_ours=1
  printf '#!/bin/sh\n# written by autoharden install-deps.sh for the duration of apt-get install\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-remove: abort rather than remove anything the machine has
  apt-get install -y -qq --no-install-recommends --no-remove "${missing[@]}"
  restore_policy
fi
# not started at a box's boot: caddy would take nginx's port 80 in every test box
[ "${1:-}" != --bench ] || systemctl --root=/ disable --quiet caddy.service mariadb.service
for b in /lib/systemd/systemd nginx memcached redis-server redis-cli redis-benchmark wrk cc /usr/sbin/sshd ssh ssh-keygen dbus-daemon ip nsenter unshare pgrep lintian dpkg-deb; do
  command -v "$b" >/dev/null || [ -x "$b" ] || die "missing $b after install"
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then npm ci --no-audit --no-fund; fi
npm run -s build
