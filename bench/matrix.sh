#!/usr/bin/env bash
# Release matrix (issue 12): `autoharden tune UNIT --json` for the bundled sample, nginx-light,
# redis-server (packaged hardening stripped, as in bench/search-real.sh) and memcached, each in a
# fresh box of Debian 12 (the machine's /, systemd 252), Debian 13 (scripts/make-root.sh trixie,
# 257) and unstable (make-root.sh sid), and prints one table. Run as root: bash bench/matrix.sh
# Environment: RELEASES="252 257 unstable" (also: host, trixie, sid), SERVICES="sample nginx redis
# memcached", SETTLE=1000 (ms), ROOTS=/var/cache/autoharden/roots, RESULTS=DIR (default /var/tmp/autoharden-matrix.TIME; kept: per
# cell NAME.json as tune wrote it, NAME.plan.json as plan predicted it beforehand, NAME.err, NAME.cell
# with systemd version, seconds and probe).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "matrix.sh: needs root (boots systemd in namespaces)" >&2; exit 4; }
RELEASES=${RELEASES:-"252 257 unstable"}
SERVICES=${SERVICES:-"sample nginx redis memcached"}
SETTLE=${SETTLE:-1000}
ROOTS=${ROOTS:-/var/cache/autoharden/roots}
RESULTS=${RESULTS:-/var/tmp/autoharden-matrix.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
npm run -s build >&2   # boxes run dist/ from the checkout

box=
stop_box() { [ -z "$box" ] || bash scripts/box.sh stop "$box" >/dev/null 2>&1 || true; box=; }
trap stop_box EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# a root already built is used as it is (even if make-root.sh's lists have grown since); a missing
# one is built
root_of() {   # release label → Debian root to boot ('' = the machine's /)
  local suite
  case $1 in
    252|host|bookworm) echo; return ;;
    257|trixie) suite=trixie ;;
    unstable|sid) suite=sid ;;
    *) echo "matrix.sh: unknown release $1 (252|257|unstable)" >&2; return 2 ;;
  esac
  if [ -f "$ROOTS/$suite/.autoharden-root" ]; then echo "$ROOTS/$suite"; else bash scripts/make-root.sh "$suite" "$ROOTS/$suite"; fi
}
unit_of() { case $1 in sample) echo autoharden-sample.service;; nginx) echo nginx.service;; memcached) echo memcached.service;; redis) echo redis-server.service;; *) return 2;; esac; }
probe_of() { case $1 in sample) echo http://127.0.0.1:81/;; nginx) echo http://127.0.0.1/;; memcached) echo tcp://127.0.0.1:11211;; redis) echo 'exec:redis-cli -h 127.0.0.1 ping | grep -q PONG';; esac; }
# bounded from outside (T seconds, default 120): a box that died must not hang the run
in_box() { timeout --foreground --kill-after=10 "${T:-120}" bash scripts/box.sh exec "$box" "$@" </dev/null; }
# the probe once more after tune, from inside the box: still serving?
serves() {
  local p; p=$(probe_of "$1")
  case $p in
    exec:*) T=30 in_box sh -c "${p#exec:}" ;;
    tcp://*) p=${p#tcp://}; T=30 in_box node -e "require('net').connect(${p##*:},'${p%:*}').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))" ;;
    *) T=30 in_box node -e "fetch('$p').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" ;;
  esac >/dev/null 2>&1
}

for rel in $RELEASES; do
  root=$(root_of "$rel")
  for svc in $SERVICES; do
    unit=$(unit_of "$svc") || { echo "matrix.sh: unknown service $svc" >&2; exit 2; }
    cell=$rel-$svc; t0=$SECONDS
    echo "== $rel × $svc" >&2
    # unique per run (two runs may overlap); owned, and so stopped by the trap, only once started
    name=mx-$$-$cell
    AUTOHARDEN_BOX_ROOT=$root bash scripts/box.sh start "$name" >/dev/null
    box=$name
    in_box sh -ec 'sed "s#@SRC@#/run/autoharden-src#" /run/autoharden-src/sample/autoharden-sample.service > /etc/systemd/system/autoharden-sample.service
      cp /run/autoharden-src/bench/redis-server-stripped.service /etc/systemd/system/redis-server.service
      systemctl daemon-reload'
    in_box systemctl start "$unit"
    systemd=$(in_box systemctl --version | sed -n '1s/^systemd \([0-9]*\) (\(.*\))$/\2/p')
    # what plan predicts (no restart), to set beside what tune then measures
    T=300 in_box node /run/autoharden-src/dist/cli/main.js plan "$unit" --probe "$(probe_of "$svc")" --settle "${SETTLE}ms" --json \
      > "$RESULTS/$cell.plan.json" 2>/dev/null || echo "matrix.sh: plan $unit on $rel failed" >&2
    rc=0
    T=1800 in_box node /run/autoharden-src/dist/cli/main.js tune "$unit" --probe "$(probe_of "$svc")" --settle "${SETTLE}ms" --json \
      > "$RESULTS/$cell.json" 2> "$RESULTS/$cell.err" || rc=$?
    ok=no; serves "$svc" && ok=yes
    printf 'release=%s\nsystemd=%s\nservice=%s\nexit=%s\nserves=%s\nseconds=%s\n' "$rel" "$systemd" "$svc" "$rc" "$ok" "$((SECONDS - t0))" > "$RESULTS/$cell.cell"
    [ "$rc" = 0 ] || echo "matrix.sh: tune $unit on $rel exited $rc: $(tail -1 "$RESULTS/$cell.err")" >&2
    stop_box
    echo "   $((SECONDS - t0)) s" >&2
  done
done

node - "$RESULTS" <<'JS'
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
// skip reasons that are about this platform (core/needs.ts, core/candidates.ts), not the service
const PLATFORM = /needs systemd|needs kernel|built without|kernel version is unknown|LSM|securityfs|has no Service property|cannot be tried on systemd|did not report its build features|cannot tell whether systemd|ignored on/i;
const names = (xs) => [...new Set(xs.map((x) => (typeof x === 'string' ? x : x.option ?? x.name ?? JSON.stringify(x))))].join(' ');
const reasons = {};
const rows = [['release', 'systemd', 'service', 'exposure', 'plan: exposure', 'trials', 'restarts', 'plan: restarts (p10-p90)', 'serves', 's', 'unscored in force', 'platform skips']];
const planOf = (f) => { try { return JSON.parse(fs.readFileSync(path.join(dir, f.replace(/\.cell$/, '.plan.json')), 'utf8')); } catch { return null; } };
// rows in the order of the issue: releases old to new, then the services
const rank = (f) => { const [rel, svc] = f.replace(/\.cell$/, '').split(/-(.*)/s);
  return [['252', 'host', 'bookworm', '257', 'trixie', 'unstable', 'sid'].indexOf(rel), ['sample', 'nginx', 'redis', 'memcached'].indexOf(svc)]; };
const cells = fs.readdirSync(dir).filter((f) => f.endsWith('.cell'))
  .sort((a, b) => { const [x, y] = [rank(a), rank(b)]; return x[0] - y[0] || x[1] - y[1]; });
for (const f of cells) {
  const c = Object.fromEntries(fs.readFileSync(path.join(dir, f), 'utf8').trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  let r = null;
  try { r = JSON.parse(fs.readFileSync(path.join(dir, f.replace(/\.cell$/, '.json')), 'utf8')); } catch { /* tune failed */ }
  const p = planOf(f);
  const planExposure = p?.exposureAfter ? `${p.exposureAfter.expected.toFixed(1)} (best ${p.exposureAfter.best.toFixed(1)})` : '-';
  const planRestarts = p?.restarts ? `${p.restarts.restarts.expected} (${p.restarts.restarts.low}-${p.restarts.restarts.high})` : '-';
  if (!r) { rows.push([c.release, c.systemd, c.service, `tune exit ${c.exit}`, planExposure, '-', '-', planRestarts, c.serves, c.seconds, '-', '-']); continue; }
  const unscored = r.unscored === undefined ? '-'
    : Array.isArray(r.unscored) ? r.unscored.map((u) => (typeof u === 'string' ? u : `${u.option}=${u.value}`)).join(' ') || 'none' : String(r.unscored);
  const skips = (r.skipped ?? []).filter((s) => PLATFORM.test(s.reason ?? ''));
  for (const s of skips) (reasons[`${c.release}: ${s.reason}`] ??= new Set()).add(s.option);
  rows.push([c.release, c.systemd, c.service, `${r.exposureBefore.toFixed(1)} → ${r.exposureAfter.toFixed(1)}`, planExposure,
    r.trials, r.restarts, planRestarts, c.serves, c.seconds, unscored, skips.length ? `${skips.length}: ${names(skips)}` : 'none']);
}
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(w[i])).join('  ').trimEnd());
if (Object.keys(reasons).length) console.log('\nplatform skips:');
for (const [k, v] of Object.entries(reasons)) console.log(`  ${k} (${[...v].join(' ')})`);
console.log(`\nraw results: ${dir}`);
JS
