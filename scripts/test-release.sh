#!/usr/bin/env bash
# The integration tests that matter most, once more in boxes booted from a Debian root of another
# release (docs/testing.md, "Other releases"). .ci/run runs it after `npm test` for Debian 13.
#   scripts/test-release.sh [RELEASE]   RELEASE: trixie (default) or sid; run as root after npm run build
# The root comes from scripts/make-root.sh (cached under /var/cache/autoharden/roots/RELEASE; built
# when missing or when its package lists changed, within ROOT_TIMEOUT seconds, default 900).
# Box names start with r-RELEASE (AUTOHARDEN_BOX_PREFIX), so they never meet the host phase's boxes.
# Runs every step and exits 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
release=${1:-trixie}
[ "$(id -u)" = 0 ] || { echo "test-release.sh: needs root" >&2; exit 4; }
root=$(timeout --kill-after=30 "${ROOT_TIMEOUT:-900}" bash scripts/make-root.sh "$release") \
  || { echo "test-release.sh: no $release root (make-root.sh failed or timed out)" >&2; exit 1; }
export AUTOHARDEN_BOX_ROOT=$root AUTOHARDEN_TEST_ROOT=$root AUTOHARDEN_BOX_PREFIX=${AUTOHARDEN_BOX_PREFIX:-r-$release}
[ -f dist/cli/main.js ] || npm run -s build

# One vitest run per step: "FILES|-t PATTERN" (a -t filter applies to every file of its run).
# Chosen to stay within about 8 minutes on two cores (measured under load on Debian 13: 188 s,
# 155 s, 141 s). Whole files there take tune 519 s, safety-reach 459 s, daemon 359 s; tune.test's
# nginx alone ("Debian's nginx") 110 s, left out: the daemon step tunes nginx with the same engine.
STEPS=(
  # the root itself, the sample tuned with 257's new values (release-values) and its BPF options
  # (release-bpf)
  "test/integration/release*.test.ts"
  # safety: nginx reached by a remote host and proxying to it, tuned without a declaration
  "test/integration/safety-reach.test.ts|tuned without a declaration"
  # the daemon: its D-Bus API, and the sample and nginx enrolled and tuned at once
  "test/integration/daemon.test.ts|the D-Bus API|two real services enrolled at once"
  # the Debian package: built, lintian, then dpkg -i / enroll nginx / dpkg -r / dpkg -P in a box
  "test/integration/deb.test.ts"
  # the attack battery in a transient unit carrying the sample's sandbox (writes under /usr and
  # /boot are tried: a debootstrapped root's overlay, never the machine's /); nginx tuned with the
  # settings that close what it finds, each rolled back in turn (audit-nginx)
  "test/integration/audit.test.ts test/integration/audit-nginx.test.ts"
  # each technique against one setting that blocks it, on and off
  "test/integration/audit-techniques.test.ts"
)
# Steps run two at a time (RELEASE_JOBS), each in its own box: a box mostly waits on settle
# periods and restarts. Each step's output is printed whole when it ends.
jobs_max=${RELEASE_JOBS:-2}
logs=$(mktemp -d /tmp/autoharden-release.XXXXXX)
declare -A step_of=() log_of=() t0_of=()
trap 'kill "${!step_of[@]}" 2>/dev/null || true; rm -rf "$logs"' EXIT
failed=()
finish_one() {
  local pid rc=0
  wait -n -p pid "${!step_of[@]}" || rc=$?
  cat "${log_of[$pid]}" >&2
  echo "== $release: ${step_of[$pid]}: $((SECONDS - ${t0_of[$pid]})) s, exit $rc" >&2
  [ "$rc" = 0 ] || failed+=("${step_of[$pid]}")
  unset "step_of[$pid]" "log_of[$pid]" "t0_of[$pid]"
}
i=0
for step in "${STEPS[@]}"; do
  IFS='|' read -r -a parts <<< "$step"
  files=(); for f in ${parts[0]}; do [ -f "$f" ] && files+=("$f"); done
  [ ${#files[@]} -gt 0 ] || continue
  filter=(); pattern=$(IFS='|'; echo "${parts[*]:1}")
  [ -z "$pattern" ] || filter=(-t "$pattern")
  while [ ${#step_of[@]} -ge "$jobs_max" ]; do finish_one; done
  i=$((i + 1))
  echo "== $release: starting ${files[*]} ${pattern:+(-t \"$pattern\")}" >&2
  npx vitest run --project integration "${files[@]}" "${filter[@]}" >"$logs/$i.log" 2>&1 &
  step_of[$!]="${files[*]}" log_of[$!]="$logs/$i.log" t0_of[$!]=$SECONDS
done
while [ ${#step_of[@]} -gt 0 ]; do finish_one; done
rm -rf "$logs"
[ ${#failed[@]} -eq 0 ] || { echo "test-release.sh: failed on $release: ${failed[*]}" >&2; exit 1; }
