#!/usr/bin/env bash
# Attack-battery benchmark (issue 15): what an attacker with each service's privileges can still
# do, stock, tuned without the settings that close what the battery finds (NoExecPaths=,
# InaccessiblePaths=: rolled back after the tune), and tuned. Each service in a fresh box booted
# from the Debian 13 root (the battery tries writes under /usr and /boot: an overlay, never the
# machine's /). Prints blocked/applicable per stage and what stays possible.
# Run as root after `bash scripts/install-deps.sh` (the root: scripts/make-root.sh trixie, cached).
# Environment: SERVICES="nginx sample", SETTLE=1s, RESULTS=DIR (kept: SERVICE-STAGE.json).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SERVICES=${SERVICES:-"nginx sample"}
bench_init audit
root=$(bash scripts/make-root.sh trixie)

for svc in $SERVICES; do
  case $svc in
    nginx) unit=nginx.service probe=http://127.0.0.1/ ;;
    sample) unit=autoharden-sample.service probe=http://127.0.0.1:81/ ;;
    *) echo "audit.sh: unknown service $svc" >&2; exit 2 ;;
  esac
  echo "== $svc" >&2
  box=au-$$-$svc
  AUTOHARDEN_BOX_ROOT=$root bash scripts/box.sh start "$box" >/dev/null
  if [ "$svc" = sample ]; then
    in_box sh -ec 'sed s,@SRC@,/run/autoharden-src,g /run/autoharden-src/sample/autoharden-sample.service > /etc/systemd/system/autoharden-sample.service
      systemctl daemon-reload'
  fi
  in_box systemctl start "$unit"
  for _ in $(seq 1 50); do in_box curl -fsS -o /dev/null "$probe" 2>/dev/null && break; sleep 0.2; done
  cli audit "$unit" --json > "$RESULTS/$svc-stock.json"
  T=900 cli tune "$unit" --probe "$probe" --settle "$SETTLE" --json > "$RESULTS/$svc-tune.json" 2> "$RESULTS/$svc-tune.err"
  cli audit "$unit" --json > "$RESULTS/$svc-tuned.json"
  for opt in NoExecPaths InaccessiblePaths; do cli rollback "$unit" --option "$opt" --settle "$SETTLE" >/dev/null 2>&1 || true; done
  cli audit "$unit" --json > "$RESULTS/$svc-unclosed.json"
  stop_box
done

node - "$RESULTS" $SERVICES <<'JS'
const fs = require('fs');
const [dir, ...services] = process.argv.slice(2);
const read = (svc, stage) => JSON.parse(fs.readFileSync(`${dir}/${svc}-${stage}.json`, 'utf8'));
for (const svc of services) {
  const stages = { stock: read(svc, 'stock'), 'tuned without closing': read(svc, 'unclosed'), tuned: read(svc, 'tuned') };
  const n = (r) => `${r.summary.blocked}/${r.summary.applicable}`;
  console.log(`${svc}: ${Object.entries(stages).map(([k, r]) => `${k} ${n(r)}`).join(', ')}`);
  const possible = (r) => r.techniques.filter((t) => t.result === 'possible').map((t) => t.id);
  const closed = possible(stages['tuned without closing']).filter((id) => !possible(stages.tuned).includes(id));
  console.log(`  closed by NoExecPaths/InaccessiblePaths: ${closed.join(' ') || '-'}`);
  console.log(`  still possible when tuned: ${possible(stages.tuned).join(' ') || '-'}`);
}
console.log(`raw results: ${dir}`);
JS
