// A box booted from a Debian root of another release (scripts/make-root.sh; docs/testing.md,
// "Other releases"): its own systemd is PID 1, its own Node runs the CLI, its servers start, the
// LSM list is visible, and nothing the box writes reaches the root. Runs only when
// AUTOHARDEN_TEST_ROOT names such a root, e.g.
//   AUTOHARDEN_TEST_ROOT=$(scripts/make-root.sh trixie) npx vitest run --project integration test/integration/release.test.ts
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, SAMPLE_URL, boxName, startBox, waitFor } from '../harness/box.js';

const ROOT = process.env.AUTOHARDEN_TEST_ROOT ?? '';
const STAMP = join(ROOT, '.autoharden-root');
// systemd's and Node's major versions per stable release, checked in their roots; unstable (sid)
// moves (262 and 24 in December 2026), so it is checked against the root's own packages only.
const SYSTEMD_MAJOR: Record<string, number> = { bookworm: 252, trixie: 257 };
const NODE_MAJOR: Record<string, number> = { trixie: 20 };
// What the integration tests run inside a box (make-root.sh's package lists): redis-cli
// (safety-reach), sshd, ssh and pam_systemd (safety-sessions), python3 (the harness's read watcher).
const TOOLS = ['redis-cli', 'sshd', 'ssh', 'ssh-keygen', 'python3', 'dbus-send', 'setpriv', 'findmnt', 'loginctl'];

/** Version of a package in the root's dpkg database, read from the machine (not through the box). */
function rootPackageVersion(pkg: string): string {
  const status = readFileSync(join(ROOT, 'var/lib/dpkg/status'), 'utf8');
  for (const para of status.split('\n\n')) {
    if (new RegExp(`^Package: ${pkg}$`, 'm').test(para) && /^Status: install ok installed$/m.test(para)) {
      const v = /^Version: (.+)$/m.exec(para)?.[1];
      if (v) return v;
    }
  }
  throw new Error(`${pkg} is not installed in ${ROOT}`);
}

/** Major version of a Debian version string: 257.9-1~deb13u1 → 257, 20.19.2+dfsg-1 → 20. */
const major = (v: string) => Number(/^(?:\d+:)?(\d+)/.exec(v)?.[1] ?? NaN);

const title = ROOT
  ? `a box booted from ${ROOT}`
  : 'a box of another release (skipped: set AUTOHARDEN_TEST_ROOT to a root built by scripts/make-root.sh)';

describe.skipIf(!ROOT)(title, () => {
  let box: Box;
  let release = '';

  beforeAll(async () => {
    // Named but not built is a mistake, not a reason to skip.
    if (!existsSync(STAMP)) throw new Error(`AUTOHARDEN_TEST_ROOT=${ROOT} is not a root built by scripts/make-root.sh (no ${STAMP})`);
    release = /^release=(.+)$/m.exec(readFileSync(STAMP, 'utf8'))?.[1] ?? '';
    box = await startBox(boxName(import.meta.url), { root: ROOT });
  }, 90_000);

  afterAll(async () => {
    await box?.stop();
  });

  it('runs the root\'s systemd as PID 1, not the machine\'s', async () => {
    expect(box.root).toBe(ROOT.replace(/\/+$/, ''));
    const out = await box.check(['systemctl', '--version']);
    const m = /^systemd (\d+) \(([^)]+)\)/.exec(out);
    expect(m, out).not.toBeNull();
    const running = Number(m![1]);
    expect(running).toBe(major(rootPackageVersion('systemd')));
    if (SYSTEMD_MAJOR[release]) expect(running).toBe(SYSTEMD_MAJOR[release]);
    // PID 1 answers on the bus with the same version: the manager, not just the client binary
    const v = await box.check(['busctl', 'get-property', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1',
      'org.freedesktop.systemd1.Manager', 'Version']);
    expect(v).toContain(`"${running}`);
    expect(await box.check(['cat', '/etc/debian_version'])).toBe(readFileSync(join(ROOT, 'etc/debian_version'), 'utf8'));
    // nothing failed on the way up (e.g. systemd-modules-load, which make-root.sh masks)
    const state = await box.exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 60_000 });
    const failed = await box.exec(['systemctl', 'list-units', '--failed', '--plain', '--no-legend', '--no-pager']);
    expect(state.stdout.trim(), failed.stdout).toBe('running');
  });

  it('runs Node >= 20.19 from the root\'s own packages', async () => {
    const v = (await box.check(['/usr/bin/node', '-p', 'process.versions.node'])).trim();
    const [maj = 0, min = 0] = v.split('.').map(Number);
    expect(maj > 20 || (maj === 20 && min >= 19), `node ${v}`).toBe(true);
    if (NODE_MAJOR[release]) expect(maj).toBe(NODE_MAJOR[release]);
    expect(rootPackageVersion('nodejs')).toContain(v);
  });

  it('has the tools the integration tests run inside a box', async () => {
    const r = await box.sh(`for t in ${TOOLS.join(' ')}; do command -v $t >/dev/null || echo "missing $t"; done; ls /usr/lib/*/security/pam_systemd.so >/dev/null || echo 'missing pam_systemd.so'`);
    expect(r.stdout.trim(), r.stderr).toBe('');
  });

  it('shows the kernel\'s LSM list on the securityfs it mounts', async () => {
    const mounts = await box.check(['findmnt', '-n', '-o', 'FSTYPE', '/sys/kernel/security']);
    expect(mounts.trim()).toBe('securityfs');
    const lsm = (await box.check(['cat', '/sys/kernel/security/lsm'])).trim();
    expect(lsm.split(',')).toContain('capability');
  });

  it('starts the bundled sample and nginx', async () => {
    await box.installSample();
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
    await box.check(['systemctl', 'start', 'nginx.service']);
    await waitFor(async () => (await box.http('http://127.0.0.1/', { timeoutMs: 1000 })).status === 200, 20_000,
      { what: 'nginx answers 200 on :80' });
    const nginx = await box.exec(['nginx', '-v']);
    expect(nginx.stderr).toContain(`nginx/${/^(?:\d+:)?([\d.]+)/.exec(rootPackageVersion('nginx'))![1]}`);
  });

  it('runs `autoharden score nginx.service` with the CLI from the checkout', async () => {
    const r = await box.cli(['score', 'nginx.service', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const exposure = (JSON.parse(r.stdout) as { exposure: number }).exposure;
    expect(exposure).toBeGreaterThan(0);
    expect(exposure).toBeLessThanOrEqual(10);
  });

  it('keeps what the box writes out of the root', async () => {
    await box.writeFile('/etc/autoharden-release-test', 'x\n');
    expect(await box.readFile('/etc/autoharden-release-test')).toBe('x\n');
    expect(existsSync(join(box.dir, 'root-upper/etc/autoharden-release-test'))).toBe(true);
    expect(existsSync(join(ROOT, 'etc/autoharden-release-test'))).toBe(false);
  });
});
