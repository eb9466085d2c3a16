// The Debian package (scripts/build-deb.sh, docs/packaging.md): built from this checkout, checked
// by lintian, then installed with dpkg in a box booted from a Debian 13 root (its whole tree is an
// overlay; a box over the machine's own root would let dpkg write the machine's /usr). There:
// enable the daemon, audit nginx with the packaged battery, enroll nginx through the daemon (a few
// restarts), status, journal, man page, then remove and purge.
// The box part runs only when AUTOHARDEN_TEST_ROOT names a built root (scripts/make-root.sh trixie):
// scripts/test-release.sh sets it. Not by a default path: CI builds that root while the host
// phase runs, and the host phase must not meet it half-way or run the box part twice.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, REPO, SRC_IN_BOX, boxName, startBox, waitFor } from '../harness/box.js';

const ROOT = process.env.AUTOHARDEN_TEST_ROOT ?? '';
const HAVE_ROOT = ROOT !== '' && existsSync(join(ROOT, '.autoharden-root'));
const HAVE_TOOLS = ['dpkg-deb', 'lintian'].every((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
// the battery is native code: the package is built for this machine's architecture
const ARCH = HAVE_TOOLS ? spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout.trim() : '';
const BATTERY = '/usr/lib/autoharden/dist/audit/autoharden-battery';

let buildDir = '';
let deb = '';

beforeAll(() => {
  if (!HAVE_TOOLS) return;
  // inside the checkout: boxes see it at /run/autoharden-src
  mkdirSync(join(REPO, 'build'), { recursive: true });
  buildDir = mkdtempSync(join(REPO, 'build', '.test-deb-'));
  const r = spawnSync('bash', [join(REPO, 'scripts/build-deb.sh')], {
    cwd: REPO, encoding: 'utf8', env: { ...process.env, BUILD_DIR: buildDir }, timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`build-deb.sh failed (${r.status}):\n${r.stderr}`);
  deb = r.stdout.trim().split('\n').pop() ?? '';
}, 320_000);

afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

const dpkgDeb = (...args: string[]) => spawnSync('dpkg-deb', [...args, deb], { encoding: 'utf8' }).stdout;

describe.skipIf(!HAVE_TOOLS)('the Debian package', () => {
  it('holds the app, its production modules, the battery, the command, unit, D-Bus policy, man page and completion', () => {
    expect(ARCH).toMatch(/^[a-z0-9-]+$/);
    expect(deb).toBe(join(buildDir, `autoharden_${VERSION}-1_${ARCH}.deb`));
    const files = dpkgDeb('--contents').split('\n').map((l) => / \.(\/\S*)/.exec(l)?.[1]).filter(Boolean);
    for (const f of [
      '/usr/bin/autoharden', '/usr/lib/autoharden/dist/cli/main.js', '/usr/lib/autoharden/package.json',
      '/usr/lib/autoharden/node_modules/dbus-next/package.json', '/usr/lib/autoharden/node_modules/usocket/index.js',
      '/usr/lib/systemd/system/autoharden.service', '/usr/share/dbus-1/system.d/org.autoharden1.conf',
      '/usr/share/man/man8/autoharden.8.gz', '/usr/share/bash-completion/completions/autoharden',
      '/usr/share/doc/autoharden/copyright', '/usr/share/doc/autoharden/changelog.Debian.gz', BATTERY,
    ]) expect(files, f).toContain(f);
    // the battery where compose/audit.ts looks for it (dist/audit beside dist/compose), executable by all
    expect(dpkgDeb('--contents').split('\n').find((l) => l.endsWith(`.${BATTERY}`))).toMatch(/^-rwxr-xr-x root\/root /);
    // no development files, no source maps, no native addon (the battery is the only native file), nothing under /etc
    expect(files.filter((f) => /node_modules\/(typescript|vitest|vite|fast-check|@types)\//.test(f!))).toEqual([]);
    expect(files.filter((f) => /\.(map|node)$/.test(f!) || f!.startsWith('/etc/'))).toEqual([]);
    const control = dpkgDeb('--field');
    expect(control).toMatch(new RegExp(`^Architecture: ${ARCH}$`, 'm'));
    // the battery links glibc statically (Policy 7.8)
    expect(control).toMatch(/^Built-Using: glibc \(= [^)]+\)$/m);
    expect(control).toMatch(/^Depends: nodejs \(>= 20\.19\), dbus, systemd$/m);
    expect(control).toMatch(/^Section: admin$/m);
    // the unit runs what the package installs
    const unit = spawnSync('sh', ['-c', `dpkg-deb --fsys-tarfile '${deb}' | tar -xOf - ./usr/lib/systemd/system/autoharden.service`], { encoding: 'utf8' }).stdout;
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/autoharden daemon$/m);
  });

  it('passes lintian without an error (its warnings: docs/packaging.md)', () => {
    const r = spawnSync('lintian', ['--fail-on', 'error', '--display-info', deb], { encoding: 'utf8', timeout: 170_000 });
    expect(r.stdout.split('\n').filter((l) => /^E:/.test(l)), r.stdout + r.stderr).toEqual([]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

describe.skipIf(!HAVE_TOOLS || !HAVE_ROOT)(`installed with dpkg in a box booted from ${ROOT}`, () => {
  let box: Box;
  const NGINX = 'http://127.0.0.1/';
  // the installed command, not the checkout's
  const ah = async (args: string[], timeoutMs = 60_000) => box.exec(['autoharden', ...args], { timeoutMs });
  const ok = async (args: string[], timeoutMs?: number) => {
    const r = await ah(args, timeoutMs);
    expect(r.code, `autoharden ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    box = await startBox(boxName(import.meta.url), { root: ROOT });
  }, 90_000);

  afterAll(async () => {
    await box?.stop();
  });

  it('installs, starts the daemon on the bus, enrolls nginx through it, then removes and purges', async () => {
    expect(await box.exec(['test', '-e', '/usr/bin/autoharden'])).toMatchObject({ code: 1 });
    const inBox = `${SRC_IN_BOX}/${relative(REPO, deb)}`;
    await box.check(['dpkg', '-i', inBox], { timeoutMs: 120_000 });
    expect((await box.check(['dpkg-query', '-W', '-f', '${Status} ${Version}', 'autoharden'])).trim()).toBe(`install ok installed ${VERSION}-1`);
    // postinst enabled and started it (dh_installsystemd's defaults); enable --now is a no-op then
    await box.check(['systemctl', 'enable', '--now', 'autoharden.service']);
    expect((await box.check(['systemctl', 'is-enabled', 'autoharden.service'])).trim()).toBe('enabled');
    await waitFor(async () => (await box.exec(['systemctl', 'is-active', 'autoharden.service'])).stdout.trim() === 'active', 30_000, { what: 'autoharden.service active' });
    // the policy let it own its name, and its object answers
    await waitFor(async () => (await box.exec(['busctl', 'introspect', 'org.autoharden1', '/org/autoharden1'])).code === 0, 30_000, { what: 'busctl introspect' });
    expect(await box.check(['busctl', 'introspect', 'org.autoharden1', '/org/autoharden1'])).toMatch(/org\.autoharden1/);

    expect((await ok(['--version'])).trim()).toBe(VERSION);
    expect(await ok(['--help'])).toMatch(/enroll/);
    await box.check(['gzip', '-t', '/usr/share/man/man8/autoharden.8.gz']);
    expect(await box.check('zcat /usr/share/man/man8/autoharden.8.gz | head -n 3')).toMatch(/^\.TH AUTOHARDEN 8 /m);
    expect(await box.check(['bash', '-c', '. /usr/share/bash-completion/completions/autoharden && complete -p autoharden'])).toMatch(/-F _autoharden autoharden/);

    await box.check(['systemctl', 'start', 'nginx']);
    // the packaged battery runs in nginx's sandbox and leaves nothing behind
    expect(await box.exec(['test', '-x', BATTERY])).toMatchObject({ code: 0 });
    const audit = JSON.parse(await ok(['audit', 'nginx.service', '--json'], 120_000)) as { complete: boolean; summary: { blocked: number; applicable: number }; techniques: unknown[] };
    expect(audit.complete).toBe(true);
    expect(audit.techniques.length).toBeGreaterThan(20);
    expect(audit.summary.applicable).toBeGreaterThan(audit.summary.blocked);
    expect((await box.exec(['systemctl', 'list-units', '--all', '--no-legend', '--plain', 'autoharden-audit-*'])).stdout.trim()).toBe('');
    // --max-restarts: the first batch is enough to prove the packaged daemon tunes; it stops there
    // with what it verified and guards nginx (a whole tune: 16+ restarts, minutes)
    const out = await ok(['enroll', 'nginx.service', '--probe', NGINX, '--settle', '1s', '--max-restarts', '8', '--wait'], 170_000);
    expect(out).toMatch(/nginx\.service/);
    const rows = JSON.parse(await ok(['status', '--json'])) as { unit: string; state: string }[];
    expect(rows.find((r) => r.unit === 'nginx.service')?.state).toBe('guarding');
    expect(await ok(['status'])).toMatch(/nginx\.service\s+guarding/);
    expect(await ok(['journal', 'nginx.service'])).toMatch(/accepted/);
    const accepted = '/etc/systemd/system/nginx.service.d/zz-autoharden-50-accepted.conf';
    expect(await box.readFile(accepted)).toMatch(/^# Managed by autoharden/);
    expect((await box.http(NGINX)).status).toBe(200);

    // remove: the program, unit and policy go; the state, the enablement link and the accepted
    // hardening of nginx stay (docs/packaging.md)
    await box.check(['dpkg', '-r', 'autoharden'], { timeoutMs: 120_000 });
    expect((await box.exec(['systemctl', 'is-active', 'autoharden.service'])).stdout.trim()).not.toBe('active');
    expect(await box.exec(['test', '-e', '/usr/lib/systemd/system/autoharden.service'])).toMatchObject({ code: 1 });
    expect(await box.exec(['test', '-e', '/usr/bin/autoharden'])).toMatchObject({ code: 1 });
    expect(await box.exec(['test', '-e', '/usr/share/dbus-1/system.d/org.autoharden1.conf'])).toMatchObject({ code: 1 });
    expect((await box.exec(['systemctl', 'show', 'autoharden.service', '-p', 'LoadState', '--value'])).stdout.trim()).toBe('not-found');
    expect(await box.exec(['test', '-d', '/var/lib/autoharden'])).toMatchObject({ code: 0 });
    expect(await box.exec(['test', '-L', '/etc/systemd/system/multi-user.target.wants/autoharden.service'])).toMatchObject({ code: 0 });
    expect(await box.readFile(accepted)).toMatch(/^# Managed by autoharden/);
    expect((await box.check(['dpkg-query', '-W', '-f', '${Status}', 'autoharden'])).trim()).toBe('deinstall ok config-files');

    // purge: the state directory and the enablement go; nginx keeps its hardening, and is told so
    const purge = await box.exec(['dpkg', '-P', 'autoharden'], { timeoutMs: 120_000 });
    expect(purge.code, purge.stderr).toBe(0);
    expect(purge.stderr + purge.stdout).toContain(accepted);
    expect(await box.exec(['test', '-e', '/var/lib/autoharden'])).toMatchObject({ code: 1 });
    expect(await box.exec(['test', '-L', '/etc/systemd/system/multi-user.target.wants/autoharden.service'])).toMatchObject({ code: 1 });
    expect(await box.readFile(accepted)).toMatch(/^# Managed by autoharden/);
    expect((await box.exec(['dpkg-query', '-W', 'autoharden'])).code).not.toBe(0);
    expect((await box.http(NGINX)).status).toBe(200);
  }, 400_000);
});
