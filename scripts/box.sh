#!/usr/bin/env bash
# A throwaway real systemd, booted as PID 1 of private namespaces (see DESIGN.md "Real systemd in tests").
#   box.sh start NAME   boot a box; prints its PID 1 (state under $AUTOHARDEN_BOX_DIR/NAME)
#   box.sh exec NAME CMD...   run CMD inside the box (all its namespaces)
#   box.sh remote NAME  join a remote test host (netns ah-NAME-r) by a veth pair: box 10.251.0.1, host 10.251.0.2
#   box.sh stop NAME    power the box off and remove its cgroups and files
# Inside the box the project checkout is bind-mounted at /run/autoharden-src; /etc and /var are
# overlays whose upper layers live in the box directory, so nothing a test persists reaches the host.
set -euo pipefail
BOXES=${AUTOHARDEN_BOX_DIR:-/var/tmp/autoharden-boxes}
SRC=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:?usage: box.sh start|exec|remote|stop NAME}; name=${2:?box name}
[[ $name =~ ^[a-z0-9-]{1,32}$ ]] || { echo "box.sh: bad box name: $name" >&2; exit 2; }
dir=$BOXES/$name

cgroup_dirs() {
  if [ -d /sys/fs/cgroup/unified ]; then echo /sys/fs/cgroup/unified/ah-$name /sys/fs/cgroup/systemd/ah-$name
  else echo /sys/fs/cgroup/ah-$name; fi
}

pid1() { cat "$dir/pid1" 2>/dev/null; }

case $cmd in
start)
  [ "$(id -u)" = 0 ] || { echo "box.sh: needs root" >&2; exit 4; }
  if [ -f "$dir/pid1" ] && kill -0 "$(pid1)" 2>/dev/null; then echo "box.sh: box $name already runs" >&2; exit 1; fi
  rm -rf "$dir"; mkdir -p "$dir"/{etc-upper,etc-work,var-upper,var-work}
  ( for cg in $(cgroup_dirs); do mkdir -p "$cg"; echo $BASHPID > "$cg/cgroup.procs"; done
    exec setsid unshare --pid --mount --net --uts --ipc --cgroup --fork --mount-proc --propagation private \
      env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin container=autoharden-test BOXDIR="$dir" SRC="$SRC" bash -c '
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
      exec /lib/systemd/systemd --unit=box.target' </dev/null >"$dir/console.log" 2>&1 &
    echo $! > "$dir/outer.pid"; wait ) &
  # PID 1 of the box is the child of unshare; wait until its bus answers.
  for _ in $(seq 1 200); do
    outer=$(cat "$dir/outer.pid" 2>/dev/null || true)
    if [ -n "$outer" ]; then
      p=$(pgrep -P "$outer" -x unshare 2>/dev/null || true); [ -n "$p" ] || p=$outer
      c=$(pgrep -P "$p" 2>/dev/null | head -1 || true)
      if [ -n "$c" ] && [ "$(readlink /proc/$c/exe 2>/dev/null)" = /usr/lib/systemd/systemd ]; then
        echo "$c" > "$dir/pid1"
        if nsenter -t "$c" -m -p -n -u -i busctl --system status org.freedesktop.systemd1 >/dev/null 2>&1 \
           && nsenter -t "$c" -m -p -n -u -i systemctl is-active -q dbus.socket 2>/dev/null; then
          echo "$c"; exit 0
        fi
      fi
    fi
    sleep 0.05
  done
  echo "box.sh: box $name did not boot; console: $dir/console.log" >&2; tail -20 "$dir/console.log" >&2; exit 1 ;;
exec)
  shift 2; p=$(pid1) || { echo "box.sh: no box $name" >&2; exit 1; }
  exec nsenter -t "$p" -m -p -n -u -i -C --wd=/ env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@" ;;
remote)
  p=$(pid1); ns=ah-$name-r
  ip netns add "$ns"
  ip link add "ahb-$name" type veth peer name "ahr-$name"
  ip link set "ahr-$name" netns "$ns"; ip link set "ahb-$name" netns "$p"
  nsenter -t "$p" -n sh -c "ip link set ahb-$name name eth0 && ip addr add 10.251.0.1/24 dev eth0 && ip link set eth0 up"
  ip -n "$ns" addr add 10.251.0.2/24 dev "ahr-$name"; ip -n "$ns" link set "ahr-$name" up; ip -n "$ns" link set lo up
  echo "$ns" ;;
stop)
  p=$(pid1 || true)
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -s RTMIN+4 "$p" || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  fi
  ip netns del "ah-$name-r" 2>/dev/null || true
  for cg in $(cgroup_dirs); do
    [ -d "$cg" ] || continue
    # kill anything left, then remove the subtree depth-first
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    for _ in $(seq 1 50); do find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null; [ -d "$cg" ] || break; sleep 0.05; done
  done
  rm -rf "$dir" ;;
*) echo "box.sh: unknown command $cmd" >&2; exit 2 ;;
esac
