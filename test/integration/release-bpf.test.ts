// The BPF options on a release whose systemd has the BPF framework (Debian 13's 257): the check
// that this systemd enforces them, and a tune of the sample that accepts SocketBindDeny=any with
// SocketBindAllow= for its port, which then holds for any process in the unit's cgroup. Runs only
// when AUTOHARDEN_TEST_ROOT names a root from scripts/make-root.sh, e.g.
//   AUTOHARDEN_TEST_ROOT=/var/cache/autoharden/roots/trixie npx vitest run --project integration test/integration/release-bpf.test.ts
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, SAMPLE_UNIT, SAMPLE_URL, SRC_IN_BOX, boxName, startBox } from '../harness/box.js';

const ROOT = process.env.AUTOHARDEN_TEST_ROOT ?? '';
const title = ROOT ? `the BPF options in a box booted from ${ROOT}` : 'the BPF options on another release (skipped: set AUTOHARDEN_TEST_ROOT)';

interface Outcome { option: string; value: string; reason?: string }
interface Report { accepted: Outcome[]; rejected: Outcome[]; skipped: Outcome[] }
type Enforcement = Record<string, { enforced: boolean; checked: string }>;

// The check as a tune runs it, through the built adapters.
const CHECK = `
const src = process.argv[1];
const { Systemd } = await import(src + '/dist/adapters/systemd.js');
const { readPlatform } = await import(src + '/dist/adapters/platform.js');
const { withEnforcement } = await import(src + '/dist/adapters/bpfCheck.js');
const { RuntimeUnitFiles } = await import(src + '/dist/adapters/unitFiles.js');
const sd = await Systemd.connect();
const p = await withEnforcement(await readPlatform(sd, '${SAMPLE_UNIT}'), sd, new RuntimeUnitFiles());
console.log(JSON.stringify({ lsm: p.lsm ?? null, enforcement: Object.fromEntries(p.enforcement) }));
process.exit(0);
`;

// Tries to listen on a port: prints "ok" or the error code.
const LISTEN = (port: number) => `require('net').createServer().on('error',e=>{console.log(e.code);process.exit(0)}).listen(${port},'127.0.0.1',()=>{console.log('ok');process.exit(0)})`;

describe.skipIf(!ROOT)(title, () => {
  let box: Box;
  let check: { lsm: string[] | null; enforcement: Enforcement };
  let report: Report;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, '.autoharden-root'))) throw new Error(`AUTOHARDEN_TEST_ROOT=${ROOT} is not a root built by scripts/make-root.sh`);
    box = await startBox(boxName(import.meta.url, 'bpf'), { root: ROOT });
    await box.installSample();
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await box?.stop();
  });

  it('checks with throwaway units that this systemd enforces SocketBindDeny, and leaves none behind', async () => {
    const out = await box.check(['/usr/bin/node', '--input-type=module', '-e', CHECK, SRC_IN_BOX], { timeoutMs: 120_000 });
    check = JSON.parse(out.trim().split('\n').at(-1)!) as typeof check;
    expect(check.enforcement.SocketBindDeny).toEqual({ enforced: true, checked: 'listen on 127.0.0.1 (port 0) was refused under SocketBindDeny=any' });
    expect(check.enforcement.RestrictNetworkInterfaces?.enforced, JSON.stringify(check)).toBe(true);
    // RestrictFileSystems is checked where the kernel's LSM list has bpf; the answer is what systemd did
    if (check.lsm?.includes('bpf')) expect(check.enforcement.RestrictFileSystems?.checked).toMatch(/read \/proc\/version (was refused|succeeded) under RestrictFileSystems=~proc/);
    const left = await box.exec(['sh', '-c', 'ls /run/systemd/system | grep zz-autoharden-check || true']);
    expect(left.stdout.trim()).toBe('');
    const units = await box.exec(['systemctl', 'list-units', '--all', '--plain', '--no-legend', 'zz-autoharden-check-*']);
    expect(units.stdout.trim()).toBe('');
  }, 150_000);

  describe('tune the sample', () => {
    beforeAll(async () => {
      const r = await box.cli(['tune', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '1000ms', '--json'], { timeoutMs: 900_000 });
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      report = JSON.parse(r.stdout) as Report;
    }, 920_000);

    it('accepts SocketBindDeny=any with SocketBindAllow= for port 81, systemd reads it back, and the sample serves', async () => {
      const acc = report.accepted.map((o) => `${o.option}=${o.value}`);
      expect(acc, JSON.stringify(report.skipped.filter((s) => /SocketBind/.test(s.option)))).toContain('SocketBindDeny=any, allow ipv4:tcp:81');
      const eff = await box.show(SAMPLE_UNIT, ['SocketBindDeny', 'SocketBindAllow', 'ActiveState']);
      expect(eff.ActiveState).toBe('active');
      expect(eff.SocketBindAllow).toMatch(/^ipv4:tcp:?81$/); // systemctl show prints "ipv4:tcp81"
      expect(eff.SocketBindDeny).toBe('any');
      expect((await box.http(SAMPLE_URL)).status).toBe(200);
    });

    it('holds for every process in the unit\'s cgroup: another port is refused, outside it is not', async () => {
      // systemd 257 drops a running unit's bind programs at daemon-reload; the tune persists (a
      // reload) and then restarts once more (lostOnReload), so they hold right after it, unrestarted
      const cgroup = (await box.show(SAMPLE_UNIT, ['ControlGroup'])).ControlGroup;
      expect(cgroup).toMatch(/autoharden-sample\.service$/);
      // this shell moves itself into the unit's cgroup, where the bind programs are attached, then becomes node
      const inside = await box.check(['sh', '-c', `echo $$ > /sys/fs/cgroup${cgroup}/cgroup.procs && exec /usr/bin/node -e "${LISTEN(8081)}"`]);
      expect(inside.trim()).toBe('EPERM');
      const outside = await box.check(['/usr/bin/node', '-e', LISTEN(8081)]);
      expect(outside.trim()).toBe('ok');
    });

    it('accepts RestrictFileSystems with the observed types where systemd enforces it, else says why not', async () => {
      const rfs = check.enforcement.RestrictFileSystems;
      const acc = report.accepted.find((o) => o.option === 'RestrictFileSystems');
      const skip = report.skipped.find((o) => o.option === 'RestrictFileSystems');
      if (rfs?.enforced) {
        expect(acc, JSON.stringify(report.rejected.filter((o) => o.option === 'RestrictFileSystems'))).toBeDefined();
        const eff = await box.show(SAMPLE_UNIT, ['RestrictFileSystems']);
        for (const t of acc!.value.split(' ')) expect(eff.RestrictFileSystems).toContain(t);
      } else {
        expect(acc).toBeUndefined();
        expect(skip?.reason).toMatch(rfs ? /accepts RestrictFileSystems here but does not enforce it \(checked: read \/proc\/version succeeded/ : /LSM/);
      }
    });
  });
});
