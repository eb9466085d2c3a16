# Sourced by the benchmarks that boot boxes (audit.sh, downtime.sh, fleet.sh): `bench_init NAME`
# checks root, makes $RESULTS (default /var/tmp/autoharden-NAME.DATE), sets $SETTLE (1s) and
# builds; one box at a time in $box, stopped on exit or signal; in_box and cli run inside it.
bench_init() {
  [ "$(id -u)" = 0 ] || { echo "$1.sh: needs root (boots systemd in namespaces)" >&2; exit 4; }
  SETTLE=${SETTLE:-1s}
  RESULTS=${RESULTS:-/var/tmp/autoharden-$1.$(date +%Y%m%d-%H%M%S)}
  mkdir -p "$RESULTS"
  npm run -s build >&2
}
box=
stop_box() { [ -z "$box" ] || bash scripts/box.sh stop "$box" >/dev/null 2>&1 || true; box=; }
trap stop_box EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
in_box() { timeout --foreground --kill-after=10 "${T:-120}" bash scripts/box.sh exec "$box" "$@" </dev/null; }
cli() { in_box node /run/autoharden-src/dist/cli/main.js "$@"; }
