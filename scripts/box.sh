#!/usr/bin/env bash
# A throwaway real systemd, booted as PID 1 of private namespaces (docs/testing.md).
#   box.sh start NAME   boot a box; prints its PID 1 (state under $AUTOHARDEN_BOX_DIR/NAME)
#   box.sh exec NAME CMD...   run CMD inside the box (all its namespaces)
#   box.sh remote NAME  join a remote test host (netns ah-NAME-r) by a veth pair: box 10.251.0.1 (eth0),
#                       host 10.251.0.2; prints the netns name
#   box.sh link NAME NETNS N   join an existing netns (e.g. another box's remote netns, so one controller
#                       reaches several boxes) by a veth pair on 10.251.N.0/24, N 1-254: box 10.251.N.1
#                       (eth0, replacing the box's link of `remote`), NETNS 10.251.N.2; prints the box's address
#   box.sh stop NAME    power the box off and remove its cgroups and files (also cleans up after a
#                       box that died or whose start failed)
#   box.sh list         names of the boxes that have state under the boxes directory
# Inside the box the project checkout is bind-mounted at /run/autoharden-src; /etc and /var are
# overlays whose upper layers live in the box directory, so nothing a test persists reaches the host.
# Environment: AUTOHARDEN_BOX_DIR (default /var/tmp/autoharden-boxes),
#              AUTOHARDEN_BOX_BOOT_TIMEOUT (seconds to wait for the box's bus, default 30),
#              AUTOHARDEN_BOX_ROOT (start: boot this Debian root, from scripts/make-root.sh, instead of
#              the machine's /: an overlay of it with the upper layer in the box directory, securityfs
#              mounted; the box directory's file `root` names it and exec enters with its root).
set -euo pipefail
BOXES=${AUTOHARDEN_BOX_DIR:-/var/tmp/autoharden-boxes}
SRC=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:?usage: box.sh start|exec|remote|link|stop NAME | box.sh list}
if [ "$cmd" = list ]; then
  [ -d "$BOXES" ] || exit 0
  for d in "$BOXES"/*/; do [ -d "$d" ] && basename "$d"; done
  exit 0
fi
name=${2:?box name}
[[ $name =~ ^[a-z0-9-]{1,32}$ ]] || { echo "box.sh: bad box name: $name" >&2; exit 2; }
dir=$BOXES/$name
# Interface names are limited to 15 bytes: derive the veth names from a hash of the box name.
tag=$(printf %s "$name" | md5sum | cut -c1-8)
veth_box=ahb-$tag veth_remote=ahr-$tag netns=ah-$name-r
veth_link=ahk-$tag veth_peer=ahl-$tag   # `link`: box end, and the end moved into the joined netns

cgroup_dirs() {
  if [ -d /sys/fs/cgroup/unified ]; then echo /sys/fs/cgroup/unified/ah-$name /sys/fs/cgroup/systemd/ah-$name
  else echo /sys/fs/cgroup/ah-$name; fi
}

pid1() { cat "$dir/pid1" 2>/dev/null; }

in_box() {
  if [ -f "$dir/root" ]; then nsenter -t "$1" -m -p -n -u -i -r -w "${@:2}"; return; fi
  nsenter -t "$1" -m -p -n -u -i "${@:2}"
}

# Power off PID 1 (if any), kill whatever is left in the box's cgroups, remove them depth-first,
# drop the remote netns and the box directory. Safe to call on a box that is half started or gone.
cleanup() {
  local p cg
  p=$(pid1 || true)
  # only signal a PID 1 that still is this box's (the pid of a box that died may be reused)
  if [ -n "$p" ] && grep -q "/ah-$name/" "/proc/$p/cgroup" 2>/dev/null; then
    kill -s RTMIN+4 "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
  fi
  ip netns del "$netns" 2>/dev/null || true
  ip link del "$veth_remote" 2>/dev/null || true
  ip link del "$veth_link" 2>/dev/null || true   # a `link` that failed half-way
  for cg in $(cgroup_dirs); do
    [ -d "$cg" ] || continue
    for _ in $(seq 1 100); do
      find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$cg" ] || break
      sleep 0.05
    done
  done
  rm -rf "$dir"
  for cg in $(cgroup_dirs); do
    if [ -d "$cg" ]; then echo "box.sh: could not remove $cg" >&2; return 1; fi
  done
}

# PID 1's set-up inside the new namespaces: the machine's / with overlays on /etc and /var.
HOST_SETUP='
      set -e
      ip link set lo up
      mount -t overlay overlay -o lowerdir=/etc,upperdir=$BOXDIR/etc-upper,workdir=$BOXDIR/etc-work /etc
      mount -t overlay overlay -o lowerdir=/var,upperdir=$BOXDIR/var-upper,workdir=$BOXDIR/var-work /var
      mount -t tmpfs tmpfs /run
      mkdir -p /run/autoharden-src /run/systemd/system
      mount --bind "$SRC" /run/autoharden-src
      mount -t tmpfs tmpfs /tmp
      umount -R /sys/fs/cgroup; mount -t cgroup2 cgroup2 /sys/fs/cgroup
      echo box > /etc/hostname; hostname box
      printf "[Unit]\nDescription=autoharden test box\nWants=basic.target dbus.socket systemd-journald.socket\nAfter=basic.target\n" > /run/systemd/system/box.target
      exec /lib/systemd/systemd --unit=box.target'
# The same for a root of another release (AUTOHARDEN_BOX_ROOT): an overlay of it becomes the box's /.
# systemd mounts no securityfs in a container; it is mounted here so the LSM list is visible.
ROOT_SETUP='
      set -e
      ip link set lo up
      M=$BOXDIR/mnt
      mount -t overlay overlay -o lowerdir=$BOXROOT,upperdir=$BOXDIR/root-upper,workdir=$BOXDIR/root-work "$M"
      mount --rbind /dev "$M/dev"
      mount -t proc proc "$M/proc"
      mount -t sysfs sysfs "$M/sys"
      mount -t securityfs securityfs "$M/sys/kernel/security"
      mount -t cgroup2 cgroup2 "$M/sys/fs/cgroup"
      mount -t tmpfs tmpfs "$M/run"
      mount -t tmpfs tmpfs "$M/tmp"
      mkdir -p "$M/run/autoharden-src" "$M/run/systemd/system" "$M/.oldroot"
      mount --bind "$SRC" "$M/run/autoharden-src"
      echo box > "$M/etc/hostname"; hostname box
      printf "[Unit]\nDescription=autoharden test box\nWants=basic.target dbus.socket systemd-journald.socket\nAfter=basic.target\n" > "$M/run/systemd/system/box.target"
      cd "$M"; pivot_root . .oldroot; cd /
      umount -l /.oldroot
      exec /lib/systemd/systemd --unit=box.target'

case $cmd in
start)
  [ "$(id -u)" = 0 ] || { echo "box.sh: needs root" >&2; exit 4; }
  if [ -f "$dir/pid1" ] && kill -0 "$(pid1)" 2>/dev/null; then echo "box.sh: box $name already runs" >&2; exit 1; fi
  if [ ! -d "$dir" ]; then
    # cgroups of this name in use without our state: a box of another boxes directory; leave it be
    for cg in $(cgroup_dirs); do
      if [ -n "$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | head -1)" ]; then
        echo "box.sh: $cg is in use by a box that is not under $BOXES" >&2; exit 1
      fi
    done
  fi
  root=${AUTOHARDEN_BOX_ROOT:-}
  if [ -n "$root" ]; then
    root=$(realpath -e "$root") && [[ $root =~ ^/[A-Za-z0-9._/-]+$ ]] && [ -x "$root/lib/systemd/systemd" ] \
      || { echo "box.sh: AUTOHARDEN_BOX_ROOT is not a bootable root: ${AUTOHARDEN_BOX_ROOT}" >&2; exit 2; }
  fi
  cleanup   # leftovers of a box of this name that died or was never stopped
  mkdir -p "$dir"/{etc-upper,etc-work,var-upper,var-work}
  setup=$HOST_SETUP
  if [ -n "$root" ]; then
    mkdir -p "$dir"/{root-upper,root-work,mnt}; echo "$root" > "$dir/root"; setup=$ROOT_SETUP
  fi
  # A keeper subshell moves itself into the box's cgroups and starts unshare, whose child becomes
  # PID 1. Its stdio must not be ours, or a caller reading our stdout would wait for the box to end.
  ( for cg in $(cgroup_dirs); do mkdir -p "$cg"; echo $BASHPID > "$cg/cgroup.procs"; done
    exec setsid unshare --pid --mount --net --uts --ipc --cgroup --fork --mount-proc --propagation private \
      env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin container=autoharden-test BOXDIR="$dir" SRC="$SRC" ${root:+BOXROOT="$root"} \
      bash -c "$setup" </dev/null >"$dir/console.log" 2>&1 &
    echo $! > "$dir/outer.pid"; wait ) </dev/null >"$dir/start.log" 2>&1 &
  keeper=$!
  # PID 1 of the box is the child of unshare; wait until its bus answers.
  deadline=$((SECONDS + ${AUTOHARDEN_BOX_BOOT_TIMEOUT:-30}))
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$keeper" 2>/dev/null; then break; fi   # unshare or the setup script failed
    outer=$(cat "$dir/outer.pid" 2>/dev/null || true)
    if [ -n "$outer" ]; then
      p=$(pgrep -P "$outer" -x unshare 2>/dev/null || true); [ -n "$p" ] || p=$outer
      c=$(pgrep -P "$p" 2>/dev/null | head -1 || true)
      if [ -n "$c" ] && [[ $(readlink /proc/$c/exe 2>/dev/null) == */lib/systemd/systemd ]]; then
        echo "$c" > "$dir/pid1"
        if in_box "$c" busctl --system status org.freedesktop.systemd1 >/dev/null 2>&1 \
           && in_box "$c" systemctl is-active -q dbus.socket 2>/dev/null; then
          echo "$c"; exit 0
        fi
      fi
    fi
    sleep 0.05
  done
  echo "box.sh: box $name did not boot; console: $dir/console.log" >&2
  tail -20 "$dir/start.log" "$dir/console.log" >&2 2>/dev/null || true
  cleanup || true
  exit 1 ;;
exec)
  shift 2; p=$(pid1) && kill -0 "$p" 2>/dev/null || { echo "box.sh: no box $name" >&2; exit 1; }
  enter=(-C --wd=/); [ ! -f "$dir/root" ] || enter=(-r -w -C)   # a box of another release: its root and cwd
  exec nsenter -t "$p" -m -p -n -u -i "${enter[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@" ;;
remote)
  p=$(pid1) && kill -0 "$p" 2>/dev/null || { echo "box.sh: no box $name" >&2; exit 1; }
  ip netns del "$netns" 2>/dev/null || true
  in_box "$p" ip link del eth0 2>/dev/null || true
  ip netns add "$netns"
  ip link add "$veth_box" type veth peer name "$veth_remote"
  ip link set "$veth_remote" netns "$netns"; ip link set "$veth_box" netns "$p"
  nsenter -t "$p" -n sh -c "ip link set $veth_box name eth0 && ip addr add 10.251.0.1/24 dev eth0 && ip link set eth0 up"
  ip -n "$netns" addr add 10.251.0.2/24 dev "$veth_remote"; ip -n "$netns" link set "$veth_remote" up
  ip -n "$netns" link set lo up
  echo "$netns" ;;
link)
  p=$(pid1) && kill -0 "$p" 2>/dev/null || { echo "box.sh: no box $name" >&2; exit 1; }
  to=${3:?netns to join} n=${4:?subnet number 1-254}
  [[ $to =~ ^[A-Za-z0-9_.-]{1,64}$ ]] && ip netns list | grep -q "^$to\( \|$\)" \
    || { echo "box.sh: no netns $to" >&2; exit 2; }
  [[ $n =~ ^[0-9]{1,3}$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 254 ] || { echo "box.sh: bad subnet number: $n" >&2; exit 2; }
  in_box "$p" ip link del eth0 2>/dev/null || true
  ip -n "$to" link del "$veth_peer" 2>/dev/null || true
  ip link add "$veth_link" type veth peer name "$veth_peer"
  ip link set "$veth_peer" netns "$to"; ip link set "$veth_link" netns "$p"
  nsenter -t "$p" -n sh -c "ip link set $veth_link name eth0 && ip addr add 10.251.$n.1/24 dev eth0 && ip link set eth0 up"
  ip -n "$to" addr add "10.251.$n.2/24" dev "$veth_peer"; ip -n "$to" link set "$veth_peer" up
  ip -n "$to" link set lo up
  echo "10.251.$n.1" ;;
stop)
  cleanup ;;
*) echo "box.sh: unknown command $cmd" >&2; exit 2 ;;
esac
