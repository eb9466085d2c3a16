#!/usr/bin/env bash
# Measures the autoharden daemon in a throwaway systemd box (scripts/box.sh): the exposure of its
# own unit, its idle memory, how often it wakes up while idle, and how long `autoharden status`
# takes — with nothing enrolled, and again while it guards one tuned service (the sample).
#   sudo scripts/measure-daemon.sh            (build first: npx tsc -p .)
# Environment: MEASURE_SECONDS (idle window, default 30), MEASURE_WARMUP (quiet time before it,
#              default 30: V8 compiles and collects for a while after start), MEASURE_RUNS (status
#              runs, default 20), MEASURE_BOX (box name, default measure-daemon).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${MEASURE_SECONDS:-30}
WARMUP=${MEASURE_WARMUP:-30}
RUNS=${MEASURE_RUNS:-20}
NAME=${MEASURE_BOX:-measure-daemon}
[ -f dist/cli/main.js ] || { echo "build first: npx tsc -p ." >&2; exit 1; }
bash scripts/box.sh start "$NAME" >/dev/null
trap 'bash scripts/box.sh stop "$NAME"' EXIT
inbox() { bash scripts/box.sh exec "$NAME" "$@"; }

inbox sh /run/autoharden-src/scripts/daemon-install.sh
# The sample service, to guard later.
inbox sh -c 'sed "s#@SRC@#/run/autoharden-src#" /run/autoharden-src/sample/autoharden-sample.service > /etc/systemd/system/autoharden-sample.service && systemctl daemon-reload && systemctl start autoharden-sample'

# Everything below runs inside the box.
inbox bash -s "$SECS" "$RUNS" "$WARMUP" <<'EOF'
set -euo pipefail
SECS=$1 RUNS=$2 WARMUP=$3
AH="node /run/autoharden-src/dist/cli/main.js"
CG=/sys/fs/cgroup/system.slice/autoharden.service

# Context switches of every thread of every process of the unit: each one is a wake-up.
switches() {
  local total=0 p t v n
  for p in $(cat $CG/cgroup.procs); do
    for t in /proc/$p/task/*; do
      v=$(awk '/^voluntary_ctxt_switches/ {print $2}' $t/status 2>/dev/null || echo 0)
      n=$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' $t/status 2>/dev/null || echo 0)
      total=$((total + v + n))
    done
  done
  echo $total
}
mainpid() { systemctl show -p MainPID --value autoharden.service; }
rss_kb() { awk '/^VmRSS/ {print $2}' /proc/$(mainpid)/status; }
# The box may not delegate the memory controller: then the sum of the processes' RSS.
cg_kb() {
  if [ -r $CG/memory.current ]; then echo "memory.current $(( $(cat $CG/memory.current) / 1024 ))"; return; fi
  local p sum=0
  for p in $(cat $CG/cgroup.procs); do sum=$((sum + $(awk '/^VmRSS/ {print $2}' /proc/$p/status))); done
  echo "RSS of its processes $sum"
}
status_ms() {
  local i t0 t1 all=()
  $AH status >/dev/null   # warm the page cache
  for i in $(seq "$RUNS"); do
    t0=$(date +%s%N); $AH status >/dev/null; t1=$(date +%s%N)
    all+=($(( (t1 - t0) / 1000000 )))
  done
  printf '%s\n' "${all[@]}" | sort -n | awk '{a[NR]=$1} END {printf "median %d ms, min %d ms, max %d ms (%d runs)", a[int((NR+1)/2)], a[1], a[NR], NR}'
}
idle() {
  sleep "$WARMUP"
  local a b procs
  procs=$(wc -l < $CG/cgroup.procs)
  a=$(switches); sleep "$SECS"; b=$(switches)
  echo "  processes in the unit: $procs"
  echo "  main process RSS: $(rss_kb) kB; whole unit ($(cg_kb) kB)"
  echo "  wake-ups (context switches, all threads) in ${SECS} s idle: $((b - a))"
  echo "  autoharden status: $(status_ms)"
}

echo "== exposure of autoharden.service"
systemd-analyze security --no-pager autoharden.service | tail -1
echo
echo "== idle, nothing enrolled"
idle
echo
echo "== tuning the sample (adaptive, settle 800 ms)"
t0=$(date +%s)
$AH enroll autoharden-sample.service --probe http://127.0.0.1:81/ --settle 800ms --strategy adaptive --wait 2>/dev/null | head -3
echo "  took $(( $(date +%s) - t0 )) s"
echo
echo "== idle, guarding the tuned sample"
idle
echo
echo "== autoharden status without the daemon (state directory read directly)"
systemctl stop autoharden.service
echo "  $(status_ms)"
EOF
