#!/usr/bin/env bash
# The main job on an embedded default: boots a throwaway systemd, hardens the bundled sample
# service and Debian's nginx inside it, prints before/after, and removes the box again.
# Nothing reaches the host: the box's /etc and /var are overlays.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BOX=demo
trap 'bash scripts/box.sh stop $BOX >/dev/null 2>&1 || true' EXIT
bash scripts/box.sh stop $BOX >/dev/null 2>&1 || true
bash scripts/box.sh start $BOX >/dev/null
in_box() { bash scripts/box.sh exec $BOX "$@"; }
ah() { in_box node /run/autoharden-src/dist/cli/main.js "$@"; }
in_box sh -c 'sed "s#@SRC@#/run/autoharden-src#" /run/autoharden-src/sample/autoharden-sample.service > /etc/systemd/system/autoharden-sample.service && systemctl daemon-reload && systemctl start autoharden-sample nginx'
for _ in $(seq 50); do in_box node -e 'fetch("http://127.0.0.1:81/").then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' && break; sleep 0.1; done
STRATEGY=${STRATEGY:-adaptive}
echo "== autoharden tune autoharden-sample.service (the bundled sample)"
ah tune autoharden-sample.service --probe http://127.0.0.1:81/ --strategy "$STRATEGY" --settle "${SETTLE:-1500}ms"
echo; echo "== autoharden tune nginx.service (Debian's nginx-light)"
ah tune nginx.service --probe http://127.0.0.1/ --strategy "$STRATEGY" --settle "${SETTLE:-1500}ms"
echo; echo "== autoharden journal nginx.service"
ah journal nginx.service | grep -v '^.\{22\}trial ' | tail -25
echo; echo "== the drop-in autoharden wrote for nginx"
in_box cat /etc/systemd/system/nginx.service.d/zz-autoharden-50-accepted.conf
