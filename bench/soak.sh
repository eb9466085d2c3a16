#!/usr/bin/env bash
# Soak: the daemon tuning the sample for a few minutes in a box while the system bus is restarted
# (systemctl restart dbus) N times and systemd re-executes itself (daemon-reexec) N times, then the
# same again once it guards. Prints the daemon's open fds, its bus match rules and its RSS idle,
# tuning before the first fault, guarding, and guarding after the second round; checks the enrollment completed: state guarding, no trial drop-in, no
# trial left open in the journal. Exit 0 when it did, 1 when not. Needs root; build first
# (`npm run test:soak` does). Runs in box soak-bench-PID, stopped at exit.
#   bench/soak.sh [N]     (default 5)
# Environment: SOAK_SETTLE (ms per trial, default 6000: a ~3 min tune), SOAK_INTERVAL (s between
# faults, default 8), SOAK_TIMEOUT (s for the whole run, default 1200).
set -euo pipefail
N=${1:-5}
SETTLE=${SOAK_SETTLE:-6000}
INTERVAL=${SOAK_INTERVAL:-8}
LIMIT=${SOAK_TIMEOUT:-1200}
[[ $N =~ ^[0-9]+$ && $SETTLE =~ ^[0-9]+$ && $INTERVAL =~ ^[0-9]+$ && $LIMIT =~ ^[0-9]+$ ]] || { echo "soak: N and SOAK_* must be numbers" >&2; exit 2; }
SRC=$(cd "$(dirname "$0")/.." && pwd)
# The whole run is bounded: re-run under timeout(1); its SIGTERM reaches the EXIT trap below.
if [ -z "${SOAK_BOUNDED:-}" ]; then
  exec timeout -k 30 "$LIMIT" env SOAK_BOUNDED=1 bash "$0" "$@"
fi
BOX=soak-bench-$$
UNIT=autoharden-sample.service
URL=http://127.0.0.1:81/
CLI="node /run/autoharden-src/dist/cli/main.js"
TRIAL=/run/systemd/system/$UNIT.d/zz-autoharden-90-trial.conf
END=$((SECONDS + LIMIT - 60)) # leave a minute for the report and the box to stop

stop_box() { bash "$SRC/scripts/box.sh" stop "$BOX" >/dev/null 2>&1 || echo "soak: could not stop box $BOX" >&2; }
trap stop_box EXIT
trap 'echo "soak: stopped by a signal (SOAK_TIMEOUT=$LIMIT?)" >&2; exit 124' TERM INT HUP

log() { printf '%s  %s\n' "$(date +%T)" "$*" >&2; }
inbox() { timeout 60 bash "$SRC/scripts/box.sh" exec "$BOX" "$@"; }
sh_in() { inbox sh -c "$1"; }
# until CMD succeeds, at most $2 seconds (and never past the run's end)
wait_for() {
  local until=$((SECONDS + $2))
  [ $until -le $END ] || until=$END
  while ! sh_in "$1" >/dev/null 2>&1; do
    [ $SECONDS -lt $until ] || { log "timed out waiting for: $1"; return 1; }
    sleep 0.5
  done
}

[ -f "$SRC/dist/cli/main.js" ] || { echo "soak: build first (npm run build)" >&2; exit 2; }
log "booting box $BOX"
bash "$SRC/scripts/box.sh" start "$BOX" >/dev/null
sed 's#@SRC@#/run/autoharden-src#g' "$SRC/sample/$UNIT" | inbox sh -c "cat > /etc/systemd/system/$UNIT"
sh_in "systemctl daemon-reload && systemctl start $UNIT"
wait_for "curl -sf -o /dev/null $URL" 30
sh_in "sh /run/autoharden-src/scripts/daemon-install.sh"
on_bus="busctl call org.autoharden1 /org/autoharden1 org.autoharden1.Manager Status s ''"
wait_for "$on_bus" 30

DEBUG_STATS=yes
# name=value lines: pid, fds, conns (the daemon's bus connections), rules (their match rules), rss (kB)
measure() {
  local pid fds rss conns=0 rules=0 name n
  pid=$(sh_in 'systemctl show -P MainPID autoharden.service')
  fds=$(sh_in "ls /proc/$pid/fd | wc -l")
  rss=$(sh_in "sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$pid/status")
  for name in $(sh_in "busctl list --unique --no-legend" | awk -v p="$pid" '$2 == p { print $1 }'); do
    conns=$((conns + 1))
    n=$(sh_in "busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.Debug.Stats GetConnectionStats s $name" 2>/dev/null \
      | sed -n 's/.*"MatchRules" u \([0-9]*\).*/\1/p' || true)
    if [ -z "$n" ]; then DEBUG_STATS=no; n=0; fi
    rules=$((rules + n))
  done
  echo "pid=$pid fds=$fds conns=$conns rules=$rules rss=$rss"
}
get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

sleep 3 # let it settle after start
IDLE=$(measure)
log "idle: $IDLE"
NR0=$(sh_in 'systemctl show -P NRestarts autoharden.service')
sh_in "$CLI enroll $UNIT --probe $URL --settle ${SETTLE}ms" >/dev/null
wait_for "grep -q '\"kind\":\"trial-begin\"' /var/lib/autoharden/journal/$UNIT.jsonl" 60
sleep 2
TUNING=$(measure)
log "tuning, before the faults: $TUNING"

pids="$(get pid "$TUNING")"
faults() { # $1: what for the log
  local i
  for i in $(seq 1 "$N"); do
    sleep "$INTERVAL"
    log "$1: fault $i/$N: systemctl restart dbus"
    sh_in 'systemctl restart dbus.service'
    wait_for "$on_bus" 60
    pids="$pids $(sh_in 'systemctl show -P MainPID autoharden.service')"
    sleep "$INTERVAL"
    log "$1: fault $i/$N: systemctl daemon-reexec"
    sh_in 'systemctl daemon-reexec'
    wait_for "$on_bus" 60
    pids="$pids $(sh_in 'systemctl show -P MainPID autoharden.service')"
  done
}
faults tuning
log "faults done; waiting for the enrollment to complete"
row() { sh_in "$CLI status $UNIT --json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s)[0];console.log(`${r.state} ${r.trials}`)})'; }
ok=1
until [ "$(row 2>/dev/null | cut -d' ' -f1)" = guarding ]; do
  if [ $SECONDS -ge $END ] || [ "$(row 2>/dev/null | cut -d' ' -f1)" = failed ]; then ok=0; break; fi
  sleep 2
done
sleep 2
GUARDING=$(measure)
log "guarding: $GUARDING"
# The same faults again in one state (guarding): growth across them is a leak, not a new state.
[ $ok = 1 ] && faults guarding
sleep 2
AFTER=$(measure)
log "guarding, after $N more of each: $AFTER"
STATE=$(row || echo "? ?")
NR1=$(sh_in 'systemctl show -P NRestarts autoharden.service')
TRIAL_LEFT=$(sh_in "[ -e $TRIAL ] && echo yes || echo no")
# trials begun and neither ended nor recovered; recovered records
read -r OPEN RECOVERED < <(sh_in "$CLI journal $UNIT --json" | node -e '
  let s=""; process.stdin.on("data",d=>s+=d).on("end",()=>{
    const recs=JSON.parse(s); const closed=new Set(recs.filter(r=>r.kind==="trial-end"||r.kind==="recovered").map(r=>r.trial));
    console.log(recs.filter(r=>r.kind==="trial-begin"&&!closed.has(r.trial)).length, recs.filter(r=>r.kind==="recovered").length)})') || true
HTTP=$(sh_in "curl -s -o /dev/null -w '%{http_code}' $URL" || true)
DISTINCT=$(tr ' ' '\n' <<<"$pids" | sort -u | grep -c .)

printf '\nsoak: %d × restart dbus and %d × daemon-reexec while tuning, the same while guarding, %d s apart; settle %d ms\n' "$N" "$N" "$INTERVAL" "$SETTLE"
printf '%-18s %8s %8s %10s %16s\n' '' idle tuning guarding "guarding+faults"
for k in pid fds conns rules rss; do
  label=$k; case $k in conns) label='bus connections';; rules) label='bus match rules';; rss) label='VmRSS (kB)';; fds) label='open fds';; esac
  printf '%-18s %8s %8s %10s %16s\n' "$label" "$(get $k "$IDLE")" "$(get $k "$TUNING")" "$(get $k "$GUARDING")" "$(get $k "$AFTER")"
done
[ "$DEBUG_STATS" = yes ] || echo "note: org.freedesktop.DBus.Debug.Stats unavailable: match rules not counted (shown as 0)"
echo "daemon processes over the run: $DISTINCT (NRestarts $NR0 → $NR1)"
echo "enrollment: state ${STATE% *}, trials ${STATE#* }, trials still open ${OPEN:-?}, recovered records ${RECOVERED:-?}, trial drop-in left: $TRIAL_LEFT, GET / → $HTTP"
if [ $ok = 1 ] && [ "${STATE% *}" = guarding ] && [ "$TRIAL_LEFT" = no ] && [ "${OPEN:-1}" = 0 ] && [ "$HTTP" = 200 ]; then
  echo "soak: ok"
else
  echo "soak: FAILED"
  sh_in 'journalctl -u autoharden.service -o cat --no-pager | tail -n 30' >&2 || true
  exit 1
fi
