#!/usr/bin/env bash
# Build, once, a Debian root of another release for the test boxes (docs/testing.md, "Other releases").
#   make-root.sh RELEASE [DIR]   RELEASE: a debootstrap suite (trixie, sid); prints DIR when ready
# DIR defaults to /var/cache/autoharden/roots/RELEASE. It is built beside DIR and renamed into place
# only when complete, with a stamp (DIR/.autoharden-root) naming the release and package lists: a
# call whose stamp matches returns at once; one whose stamp differs builds anew and replaces DIR
# (boxes booted from the old one keep it until they stop). Boot it with AUTOHARDEN_BOX_ROOT=DIR scripts/box.sh start.
# Environment: AUTOHARDEN_ROOT_MIRROR (default: the host's Debian mirror from /etc/apt/sources.list*).
set -euo pipefail
release=${1:?usage: make-root.sh RELEASE [DIR]}
[[ $release =~ ^[a-z][a-z0-9-]{1,31}$ ]] || { echo "make-root.sh: bad release: $release" >&2; exit 2; }
dir=${2:-/var/cache/autoharden/roots/$release}
dir=${dir%/}
BASE=(systemd systemd-sysv dbus iproute2 curl procps)
# the servers the tests tune, and what the integration tests run inside a box: redis-cli
# (safety-reach), sshd with pam_systemd (safety-sessions), python3 (the harness's read watcher)
EXTRA=(nodejs nginx-light redis-server redis-tools memcached openssh-server openssh-client libpam-systemd python3)
# Bump when the recipe changes in a way the package lists do not show, so cached roots are rebuilt.
RECIPE=2

die() { echo "make-root.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "make-root.sh: needs root" >&2; exit 4; }

stamp="recipe=$RECIPE
release=$release
base=${BASE[*]}
extra=${EXTRA[*]}"
ready() { [ -f "$dir/.autoharden-root" ] && [ "$(cat "$dir/.autoharden-root")" = "$stamp" ]; }
if ready; then echo "$dir"; exit 0; fi

command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
mirror=${AUTOHARDEN_ROOT_MIRROR:-}
if [ -z "$mirror" ]; then
  # the first Debian archive the host's apt uses (one-line or deb822 format), not its security suite
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -oE '(https?|file)://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)
  mirror=${mirror%/}
fi
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*; set AUTOHARDEN_ROOT_MIRROR"

mkdir -p "$(dirname "$dir")"
# One builder at a time per DIR; a second caller waits and then finds the root ready.
exec 9>"$dir.lock"
flock 9
if ready; then echo "$dir"; exit 0; fi

tmp=$(mktemp -d "$dir.build.XXXXXX")
chmod 755 "$tmp"   # a root's / is world-readable (apt's _apt user reads below it)
trap 'rm -rf --one-file-system "$tmp"' EXIT
apt_opts=(-o Dpkg::Use-Pty=0)
# sid's Release file on a mirror snapshot can be past its Valid-Until date
[ "$release" != sid ] || apt_opts+=(-o Acquire::Check-Valid-Until=false)

echo "make-root.sh: debootstrap $release from $mirror into $tmp" >&2
debootstrap --variant=minbase --include="$(IFS=,; echo "${BASE[*]}")" "$release" "$tmp" "$mirror" >&2 \
  || { tail -30 "$tmp/debootstrap/debootstrap.log" >&2 2>/dev/null || true; die "debootstrap failed"; }

# Maintainer scripts must not start the servers (policy-rc.d 101); the chroot runs in a private
# mount namespace so its /proc mount cannot outlive it.
printf '#!/bin/sh\nexit 101\n' > "$tmp/usr/sbin/policy-rc.d"; chmod 755 "$tmp/usr/sbin/policy-rc.d"
cp -L /etc/resolv.conf "$tmp/etc/resolv.conf"
unshare --mount --propagation private env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  LANG=C.UTF-8 ROOT="$tmp" bash -c '
  set -e
  mount -t proc proc "$ROOT/proc"
  chroot "$ROOT" apt-get '"${apt_opts[*]}"' update -qq
  chroot "$ROOT" apt-get '"${apt_opts[*]}"' install -y -qq --no-install-recommends '"${EXTRA[*]}"'
  chroot "$ROOT" apt-get clean' >&2 || die "apt-get install in the $release root failed"
rm -f "$tmp/usr/sbin/policy-rc.d" "$tmp/etc/resolv.conf"
rm -rf "$tmp"/var/lib/apt/lists/*_Packages* "$tmp"/var/lib/apt/lists/*_Translation*
# no kernel modules in a box: systemd-modules-load would fail and the system come up "degraded"
ln -sfn /dev/null "$tmp/etc/systemd/system/systemd-modules-load.service"
# mark /etc and /var as up to date with /usr, or every box's first boot rebuilds the linker cache and
# the journal catalog (ConditionNeedsUpdate): seconds of each boot
chroot "$tmp" /usr/lib/systemd/systemd-update-done
for b in /lib/systemd/systemd /usr/bin/node /usr/sbin/nginx /usr/bin/redis-server /usr/bin/redis-cli /usr/bin/memcached \
  /usr/bin/busctl /usr/sbin/sshd /usr/bin/ssh /usr/bin/python3; do
  [ -x "$tmp$b" ] || die "missing $b in the $release root"
done
printf '%s\n' "$stamp" > "$tmp/.autoharden-root"

# Swap into place: DIR is never half built. A box booted from the older root keeps its overlay
# (the rename does not disturb it), so that root is deleted only when no live box names DIR
# (box.sh's file `root`); otherwise it stays as DIR.old.* and a later build removes it.
in_use() {
  local f p
  for f in "${AUTOHARDEN_BOX_DIR:-/var/tmp/autoharden-boxes}"/*/root; do
    [ -f "$f" ] && [ "$(cat "$f")" = "$dir" ] || continue
    p=$(cat "$(dirname "$f")/pid1" 2>/dev/null) && kill -0 "$p" 2>/dev/null && return 0
  done
  return 1
}
if [ -e "$dir" ]; then old=$(mktemp -d "$dir.old.XXXXXX"); mv -T "$dir" "$old/root"; fi
mv -T "$tmp" "$dir"
trap - EXIT
if in_use; then
  echo "make-root.sh: boxes booted from the previous root still run; it stays in $dir.old.* until a later build" >&2
else
  for o in "$dir".old.*; do [ -d "$o" ] && rm -rf --one-file-system "$o"; done
fi
echo "$dir"
