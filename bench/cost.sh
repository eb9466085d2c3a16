#!/usr/bin/env bash
# Cost benchmark (issue 6): what sandbox settings cost real services under a real load, measured
# inside a throwaway systemd with autoharden's own rule (src/core/cost.ts): readings of the
# unhardened unit (A) and of the unit with a set of settings in a drop-in (B) alternate
# A B | B A | A B …, one restart per pair. Each set is measured for MAX_PAIRS pairs; printed are
# the median slowdown, its distribution-free bounds (98 % one-sided each at 6 pairs, 98 % at 12)
# and spread, and the verdict the rule (src/core/cost.ts) reaches against BUDGET, with the pairs
# and restarts it needed to reach it.
#
#   sudo bash bench/cost.sh                      # redis, nginx and the cost sample (~12 min)
#   SERVICES="redis" BUDGET=5% MAX_PAIRS=12 SETS="free costly all" VERBOSE=1 sudo -E bash bench/cost.sh
#
# Services and their loads (run inside the box, against 127.0.0.1):
#   redis   redis-server (Debian's unit with its packaged hardening stripped, User=redis kept),
#           `redis-benchmark -q -n 50000 -t get,set`: requests per second, GET and SET by geometric mean
#   nginx   nginx-light (Debian's unit, which has no hardening), `wrk -t1 -c16 -d2s`: requests per second
#   burner  the cost sample (sample/autoharden-burner.c), one request of 40 000 rounds of socket(),
#           mmap() and mprotect(): its wall time
#   burner-fast  the same, 2 000 000 rounds of a socket() call the kernel refuses at once (EINVAL):
#           a loop of nothing but filtered system calls, the worst case
# Sets (B; A is always the unit without any of them):
#   free    namespace and capability settings, no seccomp filter (catalog cost class 'free')
#   number  free + the seccomp settings that filter by system call number ('seccomp-number')
#   costly  the argument-inspecting ones alone: RestrictAddressFamilies, MemoryDenyWriteExecute,
#           RestrictNamespaces, RestrictSUIDSGID, plus SystemCallFilter=@system-service
#   all     number + costly: what a tune typically accepts
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/cost.sh: run as root (it boots a box)" >&2; exit 4; }
for b in redis-benchmark wrk cc; do command -v $b >/dev/null || { echo "bench/cost.sh: $b missing: run scripts/install-deps.sh" >&2; exit 1; }; done
if [ ! -f dist/core/cost.js ] || [ src/core/cost.ts -nt dist/core/cost.js ] || [ src/adapters/workload.ts -nt dist/adapters/workload.js ]; then
  npm run -s build
fi
BOX=${BOX:-bench-cost}
SERVICES=${SERVICES:-"redis nginx burner burner-fast"}
SETS=${SETS:-"free number costly all"}
BUDGET=${BUDGET:-5%}
MAX_PAIRS=${MAX_PAIRS:-12}
OUT=$(mktemp -d /var/tmp/autoharden-cost.XXXXXX)
trap 'bash scripts/box.sh stop $BOX >/dev/null 2>&1 || true; rm -rf "$OUT"' EXIT
mkdir -p dist/sample
cc -O2 -Wall -o "dist/sample/autoharden-burner.$$.tmp" sample/autoharden-burner.c
mv -f "dist/sample/autoharden-burner.$$.tmp" dist/sample/autoharden-burner
bash scripts/box.sh stop "$BOX" >/dev/null 2>&1 || true
bash scripts/box.sh start "$BOX" >/dev/null
in_box() { bash scripts/box.sh exec "$BOX" "$@"; }
in_box sh -c 'set -e
cat > /etc/systemd/system/redis-server.service <<EOF
# Debian 12 redis-server.service without its packaged hardening (User=redis kept)
[Unit]
Description=Advanced key-value store (packaged hardening stripped)
After=network.target
[Service]
Type=notify
ExecStart=/usr/bin/redis-server /etc/redis/redis.conf --supervised systemd --daemonize no
PIDFile=/run/redis/redis-server.pid
TimeoutStopSec=0
User=redis
Group=redis
RuntimeDirectory=redis
RuntimeDirectoryMode=2755
LimitNOFILE=65535
EOF
sed "s#@BIN@#/run/autoharden-src/dist/sample/autoharden-burner#" /run/autoharden-src/sample/autoharden-burner.service > /etc/systemd/system/autoharden-burner.service
systemctl daemon-reload
systemctl restart redis-server nginx autoharden-burner'

cat > "$OUT/driver.mjs" <<'JS'
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
const [repo, box, services, sets, budgetRaw, maxPairs, verbose] = process.argv.slice(2);
const { decideCost, describeCost, higherIsBetter, measureSteps, parseBudget, parseWorkloadSpec } = await import(pathToFileURL(`${repo}/dist/core/cost.js`).href);
const { runWorkload } = await import(pathToFileURL(`${repo}/dist/adapters/workload.js`).href);
const inBox = (script) => execFileSync('bash', [`${repo}/scripts/box.sh`, 'exec', box, '/bin/bash', '-c', script], { encoding: 'utf8' });
const enter = `bash ${repo}/scripts/box.sh exec ${box}`;
const BIN = '/run/autoharden-src/dist/sample/autoharden-burner';

const FREE = ['ProtectSystem=full', 'ProtectHome=yes', 'PrivateTmp=yes', 'ProtectControlGroups=yes', 'ProtectProc=invisible',
  'PrivateMounts=yes', 'NoNewPrivileges=yes', 'KeyringMode=private', 'UMask=0077', 'RemoveIPC=yes'];
const NUMBER = ['SystemCallArchitectures=native', 'SystemCallFilter=@system-service', 'LockPersonality=yes', 'RestrictRealtime=yes',
  'ProtectKernelModules=yes', 'ProtectKernelTunables=yes', 'ProtectKernelLogs=yes', 'ProtectClock=yes', 'ProtectHostname=yes', 'PrivateDevices=yes'];
const COSTLY = ['RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6', 'MemoryDenyWriteExecute=yes', 'RestrictNamespaces=yes', 'RestrictSUIDSGID=yes',
  'SystemCallFilter=@system-service'];
const SETS = { free: FREE, number: [...FREE, ...NUMBER], costly: COSTLY, all: [...new Set([...FREE, ...NUMBER, ...COSTLY])] };
const SERVICES = {
  redis: { unit: 'redis-server.service', port: 6379,
    workload: `higher:/([\\d.]+) requests per second/:${enter} redis-benchmark -q -n 50000 -t get,set`, unitOf: 'req/s' },
  nginx: { unit: 'nginx.service', port: 80,
    workload: `higher:/Requests\\/sec:\\s+([\\d.]+)/:${enter} wrk -t1 -c16 -d2s http://127.0.0.1/`, unitOf: 'req/s' },
  burner: { unit: 'autoharden-burner.service', port: 82,
    workload: `exec:${enter} ${BIN} client 40000 all`, unitOf: 's' },
  'burner-fast': { unit: 'autoharden-burner.service', port: 82,
    workload: `exec:${enter} ${BIN} client 2000000 socket-fast`, unitOf: 's' },
};
const budget = parseBudget(budgetRaw);

function restartInto(svc, lines) {
  const dir = `/run/systemd/system/${svc.unit}.d`;
  const body = lines.length ? `[Service]\n${lines.join('\n')}\n` : '';
  inBox(`set -e; mkdir -p ${dir}; rm -f ${dir}/zz-cost.conf; ${body ? `printf '%s' '${body}' > ${dir}/zz-cost.conf;` : ''}
    systemctl daemon-reload; systemctl reset-failed ${svc.unit} 2>/dev/null || true; systemctl restart ${svc.unit}
    for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/${svc.port}) 2>/dev/null && break; sleep 0.05; done
    [ "$(systemctl show -P ActiveState ${svc.unit})" = active ] || { systemctl status --no-pager ${svc.unit}; exit 1; }
    ${body ? `systemctl show -P DropInPaths ${svc.unit} | grep -q zz-cost.conf` : 'true'}`);
  // the settings took effect (a malformed drop-in line is ignored with only a log message)
  const keys = [...new Set(lines.map((l) => l.split('=')[0]))];
  if (!keys.length) return;
  const shown = Object.fromEntries(inBox(`systemctl show ${svc.unit} ${keys.map((k) => `-p ${k}`).join(' ')}`).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  for (const l of lines) {
    const [k, v] = [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)];
    const ok = v === 'yes' ? shown[k] === 'yes' || shown[k] === 'true'
      : k === 'RestrictAddressFamilies' ? v.split(' ').every((f) => shown[k].split(' ').includes(f))
      : k === 'SystemCallFilter' ? shown[k].length > 100
      : true;
    if (!ok) throw new Error(`${svc.unit}: ${l} not in force (${k}=${String(shown[k]).slice(0, 80)})`);
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const rows = [['service', 'set', 'median A', 'median B', 'slowdown', 'bounds', 'spread', 'pairs', `rule @${budgetRaw}: verdict (pairs, restarts)`]];
for (const name of services.split(/\s+/).filter(Boolean)) {
  const svc = SERVICES[name];
  if (!svc) throw new Error(`unknown service ${name}`);
  const spec = parseWorkloadSpec(svc.workload);
  for (const set of sets.split(/\s+/).filter(Boolean)) {
    const lines = SETS[set];
    if (!lines) throw new Error(`unknown set ${set}`);
    restartInto(svc, []);
    await runWorkload(spec, 120_000); // warm-up, not recorded
    // a fixed number of pairs, so that every figure has the same precision; the rule's own
    // verdict is noted at the pair count where it would have stopped
    const hib = higherIsBetter(spec);
    const pairs = [];
    const log = [];
    let restarts = 0;
    let running = 'A';
    let ruled;
    const partial = {};
    for (const s of measureSteps(0, Number(maxPairs), 'A', 'A')) {
      if (s.restart) { restartInto(svc, s.config === 'A' ? [] : lines); restarts++; }
      running = s.config;
      const v = await runWorkload(spec, 120_000);
      log.push(`${s.config}${v.toPrecision(4)}`);
      (partial[s.pair] ??= {})[s.config === 'A' ? 'a' : 'b'] = v;
      if (partial[s.pair].a !== undefined && partial[s.pair].b !== undefined) {
        pairs.push(partial[s.pair]);
        const r = decideCost(pairs, { budget, higherIsBetter: hib, maxPairs: Number(maxPairs) });
        if (!ruled && r.verdict !== 'undecided') ruled = { ...r, restarts };
      }
    }
    if (running !== 'A') restartInto(svc, []);
    const d = decideCost(pairs, { budget, higherIsBetter: hib, maxPairs: Number(maxPairs), final: true });
    const m = { pairs, restarts };
    const pct = (x) => `${x >= 1 ? '+' : '-'}${(Math.abs(x - 1) * 100).toFixed(1)}%`;
    const fig = (x) => (svc.unitOf === 's' ? `${x.toFixed(3)} s` : `${Math.round(x)} ${svc.unitOf}`);
    rows.push([name, set, fig(median(m.pairs.map((p) => p.a))), fig(median(m.pairs.map((p) => p.b))), pct(d.ratio),
      d.lower === null ? '-' : `${pct(d.lower)}..${pct(d.upper)}`, `${(d.spread * 100).toFixed(1)}%`, d.pairs,
      `${ruled.verdict}${ruled.atBound ? ' on the median' : ''} (${ruled.pairs}, ${ruled.restarts})`]);
    console.error(`${name} ${set}: ${describeCost(d)}${verbose ? `\n  ${log.join(' ')}` : ''}`);
  }
}
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(w[i])).join('  '));
JS
node "$OUT/driver.mjs" "$PWD" "$BOX" "$SERVICES" "$SETS" "$BUDGET" "$MAX_PAIRS" "${VERBOSE:-}"
