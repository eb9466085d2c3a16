// Issue 9, the guard under a hostile service: the bundled sample in hostile mode (sample/README.md)
// enrolled with the daemon and guarded, then told to forge errno-like lines, exit 226, kill
// itself with SIGSYS, swap its error.log for a symlink to a secret and for a FIFO. None of it may
// relax the sandbox: alerts are journaled, the daemon keeps answering, the secret is never read.
// A setting the box can no longer set up (PrivateDevices= once /tmp is read-only) is proven by
// the trusted check unit and still rolled back; an admin's own drop-in that breaks the namespace
// setup is not ours, and relaxes nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, type ExecOptions, SAMPLE_UNIT, SAMPLE_URL, SRC_IN_BOX, boxName, startBox, waitFor } from '../harness/box.js';

interface Row { unit: string; state: string; accepted: string[]; alerts?: number; lastAlert?: string }
interface Rec { kind: string; t: string; by?: string; options?: string[]; reason?: string; evidence?: string[] }

const ERROR_LOG = '/var/log/autoharden-sample/error.log';
const SECRET = '/etc/autoharden-secret';
// errno-like, so that a follower that read it would take it up as evidence and journal it
const MARKER = `AH-SECRET-${randomUUID()}`;
const ACCEPTED = `/etc/systemd/system/${SAMPLE_UNIT}.d/zz-autoharden-50-accepted.conf`;
const ADMIN_DROPIN = `/etc/systemd/system/${SAMPLE_UNIT}.d/admin-rw.conf`;
const HOSTILE_LINE = /\/\/etc\/cron\.d\/p|\/\.\/etc\/x: EROFS|Operation not permitted|Bad system call|Failed at step NAMESPACE/;

let box: Box;
let before: { accepted: string[]; exposure: number; dropin: string };
let guardingSince = 0;

async function ok(args: string[], opts?: ExecOptions): Promise<string> {
  const r = await box.cli(args, opts);
  expect(r.code, `autoharden ${args.join(' ')}\n${r.stderr.slice(-1500)}`).toBe(0);
  return r.stdout;
}
const row = async () => (JSON.parse(await ok(['status', '--json'])) as Row[]).find((r) => r.unit === SAMPLE_UNIT);
const journal = async (): Promise<Rec[]> => JSON.parse(await ok(['journal', SAMPLE_UNIT, '--json'])) as Rec[];
const daemon = () => box.show('autoharden.service', ['ActiveState', 'MainPID', 'NRestarts']);
const daemonLog = async (since: string) => box.check(['journalctl', '-q', '--no-pager', '-o', 'cat', '-u', 'autoharden.service', `--since=@${since}`]);
const now = async () => (await box.check(['date', '+%s.%N'])).trim();

async function exposure(): Promise<number> {
  const out = await box.check(['systemd-analyze', 'security', '--no-pager', SAMPLE_UNIT]);
  const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(out);
  expect(m, out.slice(-300)).not.toBeNull();
  return Number(m![1]);
}

/** What "nothing relaxed" compares. */
async function sandbox() {
  return { accepted: (await row())!.accepted, exposure: await exposure(), dropin: (await box.readFile(ACCEPTED)) ?? '' };
}

async function restartSample(): Promise<void> {
  await box.exec(['systemctl', 'reset-failed', SAMPLE_UNIT]);
  await box.check(['systemctl', 'restart', SAMPLE_UNIT]);
  await waitFor(async () => (await box.http(SAMPLE_URL, { timeoutMs: 1000 })).status === 200, 20_000, { what: 'the sample answers 200', intervalMs: 200 });
}

async function alertAfter(n: number, what: string, timeoutMs = 40_000): Promise<Rec> {
  return waitFor(async () => (await journal()).slice(n).find((r) => r.kind === 'alert'), timeoutMs, { what, intervalMs: 500 });
}

async function expectNothingRelaxed(n: number): Promise<void> {
  expect(await sandbox()).toEqual(before);
  expect((await journal()).slice(n).filter((r) => r.kind === 'rollback')).toEqual([]);
}

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  await box.hostileSample();
  await box.sh(`umask 077; printf '%s: Permission denied\\nroot:%s:19000:0:99999:7:::\\n' ${MARKER} ${MARKER} > ${SECRET}`);
  await box.check(['sh', `${SRC_IN_BOX}/scripts/daemon-install.sh`]);
  const r = await box.cli(['enroll', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '1000ms', '--wait'], { timeoutMs: 400_000 });
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  await waitFor(async () => (await row())?.state === 'guarding', 30_000, { what: 'guarding', intervalMs: 500 });
  guardingSince = Date.now();
  before = await sandbox();
}, 480_000);

afterAll(async () => {
  await box?.stop();
});

describe('a hostile service, guarded', () => {
  it('is guarded with a real sandbox, its error.log followed', async () => {
    expect(before.accepted.length).toBeGreaterThan(10);
    expect(before.accepted.some((a) => a.startsWith('ProtectSystem=strict'))).toBe(true);
    const e = JSON.parse((await box.readFile(`/var/lib/autoharden/enrollments/${SAMPLE_UNIT}.json`))!) as { baseline?: { logFiles: string[] } };
    expect(e.baseline?.logFiles).toContain(ERROR_LOG);
  });

  it('log: forged errno lines in its journal and error.log raise an alert and relax nothing', async () => {
    await restartSample();
    const n = (await journal()).length;
    await box.hostile('log');
    const alert = await alertAfter(n, 'an alert for the forged lines');
    expect(alert.by).toBe('guard');
    expect([alert.reason ?? '', ...(alert.evidence ?? [])].some((l) => HOSTILE_LINE.test(l))).toBe(true);
    await expectNothingRelaxed(n);
    const r = (await row())!;
    expect(r.alerts).toBeGreaterThanOrEqual(1);
    expect(await ok(['status'])).toMatch(/autoharden-sample\.service\s+guarding\s+.*alert/);
  });

  it('exit226: a 226 it chose itself raises an alert and relaxes nothing', async () => {
    await restartSample();
    const n = (await journal()).length;
    await box.hostile('exit226');
    await waitFor(async () => (await box.show(SAMPLE_UNIT, ['ActiveState', 'ExecMainStatus'])).ExecMainStatus === '226', 15_000, { what: 'exit 226' });
    const alert = await alertAfter(n, 'an alert for exit 226');
    expect(alert.by).toBe('guard');
    expect(alert.reason).toMatch(/226/);
    await expectNothingRelaxed(n);
    await restartSample();
  });

  it('sigsys: a SIGSYS it sent itself raises an alert and relaxes nothing', async () => {
    const n = (await journal()).length;
    await box.hostile('sigsys');
    await waitFor(async () => (await box.show(SAMPLE_UNIT, ['ExecMainStatus'])).ExecMainStatus === '31', 15_000, { what: 'killed by SIGSYS' });
    const alert = await alertAfter(n, 'an alert for SIGSYS');
    expect(alert.by).toBe('guard');
    expect(alert.reason).toMatch(/SIGSYS|31\/SYS/);
    await expectNothingRelaxed(n);
    await restartSample();
  });

  it('symlink: an error.log swapped for a link to a root-only secret is never read', async () => {
    await box.hostile('reopen');
    const secretReads = await box.watchReads(SECRET);
    const since = await now();
    await box.hostile('symlink', { to: SECRET });
    expect(await box.check(['readlink', ERROR_LOG])).toBe(`${SECRET}\n`);
    const leaked = async () => [
      await ok(['journal', SAMPLE_UNIT, '--json']),
      await ok(['status', '--json']),
      await box.check(['journalctl', '-q', '--no-pager', '-o', 'cat']),
      (await box.exec(['grep', '-rl', MARKER, '/var/lib/autoharden'])).stdout,
    ].join('\n').includes(MARKER);
    // the follower saw the swap (it says so) or read through it: a bounded wait for either
    await waitFor(async () => /error\.log.*symlink/.test(await daemonLog(since)) || await leaked(), 15_000, { what: 'the daemon noticed the symlink', intervalMs: 500 }).catch(() => undefined);
    expect(await leaked()).toBe(false);
    expect(await secretReads.count()).toBe(0); // not by anyone: nothing else reads it
    await secretReads.stop();
    await box.hostile('reopen');
  });

  it('fifo: an error.log swapped for a FIFO does not freeze the daemon', async () => {
    const pid = (await daemon()).MainPID;
    const since = await now();
    await box.hostile('fifo');
    expect((await box.exec(['test', '-p', ERROR_LOG])).code).toBe(0);
    await box.hostile('log'); // more writes to the old file: the follower wakes up again
    await waitFor(async () => /error\.log.*FIFO/.test(await daemonLog(since)), 10_000, { what: 'the daemon noticed the FIFO', intervalMs: 500 }).catch(() => undefined);
    // a frozen event loop never answers: each call is bounded well below D-Bus's own 25 s
    for (let i = 0; i < 3; i++) {
      const call = await box.exec(['busctl', '--timeout=5', 'call', 'org.autoharden1', '/org/autoharden1', 'org.autoharden1.Manager', 'Status', 's', ''], { timeoutMs: 10_000 });
      expect(call.code, call.stderr).toBe(0);
      const st = await box.cli(['status', '--json'], { timeoutMs: 15_000 });
      expect(st.timedOut).toBe(false);
      expect(st.code, st.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 700));
    }
    expect((await daemon()).MainPID).toBe(pid);
    expect((await daemon()).ActiveState).toBe('active');
    await box.hostile('reopen');
  });

  it('relaxed nothing through all of it, and journaled only alerts', async () => {
    expect(await sandbox()).toEqual(before);
    const since = (await journal()).filter((r) => Date.parse(r.t) >= guardingSince - 1000);
    expect(since.filter((r) => r.kind === 'rollback')).toEqual([]);
    const alerts = since.filter((r) => r.kind === 'alert');
    expect(alerts.length).toBeGreaterThanOrEqual(3);
    expect(alerts.every((r) => r.by === 'guard')).toBe(true);
    expect((await box.show(SAMPLE_UNIT, ['ActiveState'])).ActiveState).toBe('active');
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
  });
});

describe('a setting the box can no longer set up', () => {
  afterAll(async () => {
    await box.exec(`grep -q ' /tmp tmpfs ro,' /proc/self/mounts && umount /tmp`);
  });

  it('is proven by the check unit and rolled back: PrivateDevices, nothing else', async () => {
    // systemd 252 builds a PrivateDevices= /dev in a fresh directory under /tmp
    // (/tmp/namespace-dev-XXXXXX): with /tmp read-only that fails with 226/NAMESPACE, for
    // /bin/true as much as for the service (PrivateTmp= copes with a read-only /tmp).
    const acc = (await row())!.accepted;
    expect(acc).toContain('PrivateDevices=yes');
    const n = (await journal()).length;
    await box.check(['mount', '-t', 'tmpfs', '-o', 'ro,mode=1777,size=64k', 'ah-ro-tmp', '/tmp']);
    const probe = await box.exec(['systemd-run', '--wait', '--quiet', '-p', 'PrivateDevices=yes', '/bin/true']);
    expect(probe.code).not.toBe(0); // the box really cannot set it up any more
    expect((await box.exec(['systemd-run', '--wait', '--quiet', '-p', 'ProtectSystem=strict', '/bin/true'])).code).toBe(0);
    await box.exec(['systemctl', 'restart', SAMPLE_UNIT]); // an admin's restart, after "the upgrade"
    await waitFor(async () => (await journal()).slice(n).some((r) => r.kind === 'rollback' && r.by === 'guard'), 90_000,
      { what: 'a guard rollback', intervalMs: 1000 }).catch(async (e: Error) => {
      throw new Error(`${e.message}\nsample: ${JSON.stringify(await box.show(SAMPLE_UNIT, ['ActiveState', 'ExecMainStatus']))}\njournal since: ${JSON.stringify((await journal()).slice(n))}\ndaemon: ${(await box.exec('journalctl -u autoharden.service -o cat -n 15 --no-pager')).stdout}`);
    });
    await waitFor(async () => (await box.show(SAMPLE_UNIT, ['ActiveState'])).ActiveState === 'active' && (await box.http(SAMPLE_URL)).status === 200,
      60_000, { what: 'the sample back up', intervalMs: 500 });
    const rb = (await journal()).slice(n).filter((r) => r.kind === 'rollback');
    expect(rb.map((r) => [r.by, r.options])).toEqual([['guard', ['PrivateDevices']]]);
    expect(rb[0]!.reason).toMatch(/226/);
    const after = (await row())!;
    expect(after.state).toBe('guarding');
    expect(after.accepted).toEqual(acc.filter((a) => a !== 'PrivateDevices=yes'));
  }, 180_000);
});

describe("an admin's own drop-in that breaks the namespace setup", () => {
  beforeAll(async () => {
    // a fresh daemon: alerts of the same kind seen before are not repeated within the hour
    await box.check('systemctl restart autoharden.service');
    await waitFor(async () => (await row())?.state === 'guarding', 30_000, { what: 'guarding again', intervalMs: 500 });
    await restartSample();
  }, 60_000);

  it('is not ours: the check unit sets up, so it alerts and relaxes nothing', async () => {
    const was = await sandbox();
    const n = (await journal()).length;
    await box.writeFile(ADMIN_DROPIN, '[Service]\nReadWritePaths=/nonexistent-ah-admin\n');
    await box.check('systemctl daemon-reload');
    await box.exec(['systemctl', 'restart', SAMPLE_UNIT]);
    await waitFor(async () => (await box.show(SAMPLE_UNIT, ['ExecMainStatus'])).ExecMainStatus === '226', 15_000, { what: 'exit 226 (the admin\'s path)' });
    const alert = await alertAfter(n, 'an alert for the admin\'s 226', 60_000);
    expect(alert.reason).toMatch(/226/);
    expect(await sandbox()).toEqual(was);
    expect((await journal()).slice(n).filter((r) => r.kind === 'rollback')).toEqual([]);
    await box.check(`rm ${ADMIN_DROPIN} && systemctl daemon-reload`);
    await restartSample();
  }, 120_000);
});
