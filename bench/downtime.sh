#!/usr/bin/env bash
# Downtime benchmark (issue 14): tunes nginx-light, caddy, redis-server (packaged hardening
# stripped), mariadb and postgresql 15, each in a fresh box of the machine's systemd, while a
# prober inside the box (bench/prober.mjs) asks the service every 100 ms; prints trials, restarts,
# tune time, final exposure, the downtime autoharden reports and the downtime the prober saw.
# Run as root after `bash scripts/install-deps.sh --bench` (adds caddy, mariadb, postgresql).
# Environment: SERVICES="nginx caddy redis mariadb postgresql", SETTLE=1s, RESULTS=DIR (kept:
# NAME.json as tune wrote it, NAME.err, NAME.probe as the prober saw it), TUNE_ARGS (more tune options).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SERVICES=${SERVICES:-"nginx caddy redis mariadb postgresql"}
bench_init downtime

ALL_UNITS="nginx.service caddy.service redis-server.service mariadb.service postgresql@15-main.service memcached.service"
unit_of() { case $1 in nginx) echo nginx.service;; caddy) echo caddy.service;; redis) echo redis-server.service;;
  mariadb) echo mariadb.service;; postgresql) echo postgresql@15-main.service;; *) return 2;; esac; }
probe_of() { case $1 in nginx|caddy) echo http://127.0.0.1/;; redis) echo 'exec:redis-cli -h 127.0.0.1 ping | grep -q PONG';;
  mariadb) echo "exec:mariadb -N -e 'SELECT 1' | grep -q 1";; postgresql) echo "exec:runuser -u postgres -- psql -qAtc 'SELECT 1' | grep -q 1";; esac; }

for svc in $SERVICES; do
  unit=$(unit_of "$svc") || { echo "downtime.sh: unknown service $svc" >&2; exit 2; }
  [ -f "/lib/systemd/system/${unit/@15-main/@}" ] || { echo "downtime.sh: $unit is not installed (bash scripts/install-deps.sh --bench)" >&2; exit 2; }
  echo "== $svc" >&2
  name=dt-$$-$svc
  bash scripts/box.sh start "$name" >/dev/null
  box=$name
  # only the service under test runs (caddy and nginx both want port 80)
  in_box sh -ec "cp /run/autoharden-src/bench/redis-server-stripped.service /etc/systemd/system/redis-server.service
    systemctl daemon-reload; systemctl stop $ALL_UNITS; systemctl start $unit"
  probe=$(probe_of "$svc")
  in_box systemd-run -q --unit=bench-prober -p StandardOutput=file:/run/bench-prober.out node /run/autoharden-src/bench/prober.mjs "$probe" 100
  rc=0
  T=1800 in_box node /run/autoharden-src/dist/cli/main.js tune "$unit" --probe "$probe" --settle "$SETTLE" --json ${TUNE_ARGS:-} \
    > "$RESULTS/$svc.json" 2> "$RESULTS/$svc.err" || rc=$?
  in_box systemctl stop bench-prober
  in_box cat /run/bench-prober.out > "$RESULTS/$svc.probe"
  [ "$rc" = 0 ] || echo "downtime.sh: tune $unit exited $rc: $(tail -1 "$RESULTS/$svc.err")" >&2
  stop_box
done

node - "$RESULTS" $SERVICES <<'JS'
const fs = require('fs');
const [dir, ...services] = process.argv.slice(2);
const rows = [['service', 'trials', 'restarts', 'tune s', 'exposure', 'downtime s (tune)', 'downtime s (prober)', 'prober down at end']];
const restarts = [];
for (const svc of services) {
  let r = null;
  try { r = JSON.parse(fs.readFileSync(`${dir}/${svc}.json`, 'utf8')); } catch { /* tune failed */ }
  // the prober's failing spans: each failing probe until the next probe began
  const lines = fs.existsSync(`${dir}/${svc}.probe`) ? fs.readFileSync(`${dir}/${svc}.probe`, 'utf8').trim().split('\n').map((l) => l.split(' ')) : [];
  let down = 0;
  for (let i = 0; i + 1 < lines.length; i++) if (lines[i][1] === 'fail') down += Number(lines[i + 1][0]) - Number(lines[i][0]);
  const endDown = lines.at(-1)?.[1] === 'fail' ? 'yes' : 'no';
  if (!r) { rows.push([svc, '-', '-', '-', 'tune failed', '-', (down / 1000).toFixed(1), endDown]); continue; }
  restarts.push(r.restarts);
  rows.push([svc, r.trials, r.restarts, (r.durationMs / 1000).toFixed(1), `${r.exposureBefore.toFixed(1)} → ${r.exposureAfter.toFixed(1)}`,
    r.downtimeMs === undefined ? '-' : (r.downtimeMs / 1000).toFixed(1), (down / 1000).toFixed(1), endDown]);
}
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(w[i])).join('  ').trimEnd());
const s = [...restarts].sort((a, b) => a - b);
if (s.length) console.log(`\nmedian restarts: ${s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2} (${s.join(' ')})`);
console.log(`raw results: ${dir}`);
JS
