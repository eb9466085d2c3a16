#!/usr/bin/env bash
# Search benchmark on real services (issue 5), inside a throwaway systemd: tunes nginx-light,
# memcached, redis-server (packaged hardening stripped, User=redis kept) and the bundled sample
# with both strategies, from the same untuned start, and prints trials, restarts, wall time,
# exposure before/after and whether the probe still passes. Run as root: npm run bench:search
# Optional: STRATEGIES="adaptive" SERVICES="nginx redis" SETTLE=1000
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli/main.js ] || npm run -s build
BOX=bench-search
STRATEGIES=${STRATEGIES:-"one-at-a-time adaptive"}
SERVICES=${SERVICES:-"sample nginx memcached redis"}
SETTLE=${SETTLE:-1000}
OUT=$(mktemp -d /var/tmp/autoharden-bench.XXXXXX)
trap 'bash scripts/box.sh stop $BOX >/dev/null 2>&1 || true; rm -rf "$OUT"' EXIT
bash scripts/box.sh stop $BOX >/dev/null 2>&1 || true
bash scripts/box.sh start $BOX >/dev/null
in_box() { bash scripts/box.sh exec $BOX "$@"; }
ah() { in_box node /run/autoharden-src/dist/cli/main.js "$@"; }
in_box sh -c 'sed "s#@SRC@#/run/autoharden-src#" /run/autoharden-src/sample/autoharden-sample.service > /etc/systemd/system/autoharden-sample.service
  cp /run/autoharden-src/bench/redis-server-stripped.service /etc/systemd/system/redis-server.service
  systemctl daemon-reload && systemctl start autoharden-sample nginx memcached redis-server'

unit_of() { case $1 in sample) echo autoharden-sample.service;; nginx) echo nginx.service;; memcached) echo memcached.service;; redis) echo redis-server.service;; esac; }
probe_of() { case $1 in sample) echo http://127.0.0.1:81/;; nginx) echo http://127.0.0.1/;; memcached) echo tcp://127.0.0.1:11211;; redis) echo 'exec:redis-cli -h 127.0.0.1 ping | grep -q PONG';; esac; }

for svc in $SERVICES; do
  unit=$(unit_of "$svc"); probe=$(probe_of "$svc")
  for strategy in $STRATEGIES; do
    ah rollback "$unit" --all >/dev/null 2>&1 || true   # the same untuned start for each strategy
    echo "== $svc ($strategy)" >&2
    if ah tune "$unit" --probe "$probe" --strategy "$strategy" --settle "${SETTLE}ms" --json > "$OUT/$svc-$strategy.json" 2> "$OUT/$svc-$strategy.err"; then
      p=$(probe_of "$svc"); ok=no
      case $p in
        exec:*) in_box sh -c "${p#exec:}" && ok=yes ;;
        tcp://*) hp=${p#tcp://}; in_box node -e "require('net').connect(${hp##*:},'${hp%:*}').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))" && ok=yes ;;
        *) in_box node -e "fetch('$p').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" && ok=yes ;;
      esac
      echo "$ok" > "$OUT/$svc-$strategy.probe"
    else
      echo "tune failed: $(tail -1 "$OUT/$svc-$strategy.err")" >&2; echo failed > "$OUT/$svc-$strategy.probe"
    fi
  done
done

node - "$OUT" $SERVICES <<'JS'
const fs = require('fs');
const [dir, ...services] = process.argv.slice(2);
const rows = [['service', 'strategy', 'trials', 'restarts', 'wall s', 'exposure', 'probe']];
const sums = {};
for (const svc of services) for (const st of ['one-at-a-time', 'adaptive']) {
  const f = `${dir}/${svc}-${st}.json`;
  if (!fs.existsSync(f) || !fs.statSync(f).size) continue;
  const r = JSON.parse(fs.readFileSync(f, 'utf8'));
  const probe = fs.readFileSync(`${dir}/${svc}-${st}.probe`, 'utf8').trim();
  rows.push([svc, st, r.trials, r.restarts, (r.durationMs / 1000).toFixed(1), `${r.exposureBefore.toFixed(1)} → ${r.exposureAfter.toFixed(1)}`, probe]);
  (sums[st] ??= { restarts: 0, trials: 0 }).restarts += r.restarts;
  sums[st].trials += r.trials;
}
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(w[i])).join('  '));
if (sums['one-at-a-time'] && sums.adaptive) {
  const a = sums.adaptive, o = sums['one-at-a-time'];
  console.log(`\nall services: restarts ${o.restarts} one-at-a-time vs ${a.restarts} adaptive = ${(100 * a.restarts / o.restarts).toFixed(0)}%; trials ${o.trials} vs ${a.trials}`);
}
JS
