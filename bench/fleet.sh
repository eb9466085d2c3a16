#!/usr/bin/env bash
# Fleet benchmark (issue 16): restarts `apply` costs per host. Learns a profile on Debian's nginx
# in a box of the machine's systemd (tune, export --format profile), then applies it in a fresh
# box as it is (a matching host) and in one whose nginx has a `proxy_bind … transparent` server
# (its workers need CAP_NET_RAW, which the canary's CapabilityBoundingSet= left out: one setting
# this host cannot take). Prints n, trials and restarts against 1 + ceil(log2 n), then the
# simulation of every culprit position (bench/fleet-sim.mjs).
# Run as root after `bash scripts/install-deps.sh`. Environment: SETTLE=1s, RESULTS=DIR (kept:
# profile.json, match.json, mismatch.json and their .err).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_init fleet
PROBE=http://127.0.0.1/
TRANSPARENT='server {\n  listen 127.0.0.1:8081;\n  location / { proxy_bind $remote_addr transparent; proxy_pass http://127.0.0.1:80; }\n}\n'

fresh() {
  box=fl-$$-$1
  bash scripts/box.sh start "$box" >/dev/null
  in_box systemctl start nginx
}

echo "== canary: tune and export" >&2
fresh canary
T=900 cli tune nginx.service --probe "$PROBE" --settle "$SETTLE" --json > "$RESULTS/tune.json" 2> "$RESULTS/tune.err"
cli export nginx.service --format profile > "$RESULTS/profile.json"
stop_box

for host in match mismatch; do
  echo "== $host: apply" >&2
  fresh "$host"
  # root-owned, not writable by others: as `apply` wants a profile whose probes would run as root
  in_box install -m 0600 /dev/null /root/nginx.profile.json
  bash scripts/box.sh exec "$box" sh -c 'cat > /root/nginx.profile.json' < "$RESULTS/profile.json"
  if [ "$host" = mismatch ]; then
    in_box sh -c "printf '$TRANSPARENT' > /etc/nginx/conf.d/bench-transparent.conf && systemctl restart nginx"
  fi
  rc=0
  T=900 cli apply /root/nginx.profile.json nginx.service --settle "$SETTLE" --json > "$RESULTS/$host.json" 2> "$RESULTS/$host.err" || rc=$?
  [ "$rc" = 0 ] || echo "fleet.sh: apply on $host exited $rc: $(tail -1 "$RESULTS/$host.err")" >&2
  stop_box
done

node - "$RESULTS" <<'JS'
const fs = require('fs');
const [dir] = process.argv.slice(2);
const profile = JSON.parse(fs.readFileSync(`${dir}/profile.json`, 'utf8'));
const n = profile.settings.length;
console.log(`profile: ${n} settings from the canary; 1 + ceil(log2 n) = ${1 + Math.ceil(Math.log2(n))}`);
for (const host of ['match', 'mismatch']) {
  const r = JSON.parse(fs.readFileSync(`${dir}/${host}.json`, 'utf8'));
  const rejected = r.settings.filter((s) => s.status === 'rejected').map((s) => s.option);
  console.log(`${host}: ${r.trials} trials, ${r.restarts} restarts; applied ${r.counts.applied}, rejected ${r.counts.rejected} (${rejected.join(' ') || '-'}), skipped ${r.counts.skipped}`);
}
console.log(`raw results: ${dir}`);
JS
node bench/fleet-sim.mjs
