// guard pause|resume in a real systemd: the sample enrolled and guarded by the daemon, then an
// admin's maintenance — a drop-in of theirs that makes the sample fail to start (226/NAMESPACE) —
// while the guard is paused: nothing journaled but the pause, the daemon says it left the failure
// to the admin. On resume (by the admin, or by expiry) the guard looks afresh and alerts: the check
// unit sets the sandbox up, so the failure is the admin's and nothing is relaxed. A pause made
// while the daemon is stopped is journaled on the state directory and honoured when it starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, type ExecOptions, SAMPLE_UNIT, SAMPLE_URL, SRC_IN_BOX, boxName, startBox, waitFor } from '../harness/box.js';

interface Row { unit: string; state: string; accepted: string[]; pausedUntil?: string }
interface Rec { kind: string; t: string; action?: string; by?: string; until?: string; options?: string[]; reason?: string }

const ADMIN_DROPIN = `/etc/systemd/system/${SAMPLE_UNIT}.d/admin-maintenance.conf`;
const LEFT = `${SAMPLE_UNIT} failed during the admin's pause: left to the admin`;

let box: Box;

async function ok(args: string[], opts?: ExecOptions): Promise<string> {
  const r = await box.cli(args, opts);
  expect(r.code, `autoharden ${args.join(' ')}\n${r.stderr.slice(-1500)}`).toBe(0);
  return r.stdout;
}
const row = async () => (JSON.parse(await ok(['status', '--json'])) as Row[]).find((r) => r.unit === SAMPLE_UNIT);
const journal = async (): Promise<Rec[]> => JSON.parse(await ok(['journal', SAMPLE_UNIT, '--json'])) as Rec[];
const now = async () => (await box.check(['date', '+%s.%N'])).trim();
const daemonLog = async (since: string) => box.check(['journalctl', '-q', '--no-pager', '-o', 'cat', '-u', 'autoharden.service', `--since=@${since}`]);
const summary = (recs: Rec[]) => recs.filter((r) => ['guard', 'alert', 'rollback'].includes(r.kind)).map((r) => (r.kind === 'guard' ? `${r.action} by ${r.by}` : r.kind));

/** The admin's change: a path that does not exist, so that systemd cannot set up the namespace. */
async function breakSample(): Promise<void> {
  await box.writeFile(ADMIN_DROPIN, '[Service]\nReadWritePaths=/nonexistent-ah-maintenance\n');
  await box.check('systemctl daemon-reload');
  await box.exec(['systemctl', 'restart', SAMPLE_UNIT]);
  await waitFor(async () => (await box.show(SAMPLE_UNIT, ['ExecMainStatus'])).ExecMainStatus === '226', 15_000, { what: 'exit 226 (the admin\'s path)' });
}

async function repairSample(): Promise<void> {
  await box.check(`rm -f ${ADMIN_DROPIN} && systemctl daemon-reload && systemctl reset-failed ${SAMPLE_UNIT}; systemctl restart ${SAMPLE_UNIT}`);
  await waitFor(async () => (await box.http(SAMPLE_URL, { timeoutMs: 1000 })).status === 200, 20_000, { what: 'the sample answers 200', intervalMs: 200 });
}

async function alertAfter(n: number, what: string): Promise<Rec> {
  return waitFor(async () => (await journal()).slice(n).find((r) => r.kind === 'alert'), 60_000, { what, intervalMs: 500 });
}

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  await box.installSample();
  await box.check(['sh', `${SRC_IN_BOX}/scripts/daemon-install.sh`]);
  const r = await box.cli(['enroll', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '1s', '--wait'], { timeoutMs: 400_000 });
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  await waitFor(async () => (await row())?.state === 'guarding', 30_000, { what: 'guarding', intervalMs: 500 });
}, 480_000);

afterAll(async () => {
  await box?.stop();
});

describe('guard pause', () => {
  it('refuses a unit autoharden knows nothing of, with exit 6 and one line', async () => {
    for (const args of [['guard', 'pause', 'nginx.service'], ['guard', 'resume', 'nginx.service']]) {
      const r = await box.cli(args);
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr.trim().split('\n')).toEqual(['autoharden: nginx.service is neither enrolled nor tuned: autoharden guards nothing there to pause']);
    }
  });

  it('through the daemon: a failure during the pause is left to the admin; the resume judges it', async () => {
    const n = (await journal()).length;
    const since = await now();
    expect(await ok(['guard', 'pause', SAMPLE_UNIT, '--for', '5min'])).toMatch(/guard paused until \d\d:\d\d; it resumes by itself then/);
    expect(await ok(['status'])).toMatch(/autoharden-sample\.service\s+guarding \(paused until \d\d:\d\d\)/);
    await breakSample();
    // the daemon saw the failure and decided to leave it: a positive sign, not a wait
    await waitFor(async () => (await daemonLog(since)).includes(LEFT), 30_000, { what: 'the daemon left the failure to the admin', intervalMs: 500 });
    expect(summary((await journal()).slice(n))).toEqual(['pause by user']);

    expect(await ok(['guard', 'resume', SAMPLE_UNIT])).toMatch(/guard resumed; it looks at the unit afresh now/);
    const alert = await alertAfter(n, 'an alert once the pause is over');
    expect(alert.reason).toMatch(/226/);
    expect(alert.reason).toMatch(/relaxes nothing/);
    expect(summary((await journal()).slice(n))).toEqual(['pause by user', 'resume by user', 'alert']);
    expect((await row())!.pausedUntil).toBeUndefined();
    expect(await ok(['guard', 'resume', SAMPLE_UNIT])).toBe(`${SAMPLE_UNIT}: the guard is not paused; nothing to resume\n`);
    expect(await ok(['journal', SAMPLE_UNIT])).toMatch(/guard +paused until .* by user\n.*guard +resumed by user/);
    await repairSample();
  }, 120_000);

  it('without the daemon: journaled on the state directory, honoured at its start, ended by itself', async () => {
    await box.check('systemctl stop autoharden.service');
    const n = (await journal()).length;
    expect(await ok(['guard', 'pause', SAMPLE_UNIT, '--for', '40s'])).toMatch(/guard paused until/);
    const r = (await row())!;
    expect(r.pausedUntil).toBeDefined();
    const since = await now();
    await box.check('systemctl start autoharden.service');
    await waitFor(async () => (await row())?.state === 'guarding', 30_000, { what: 'guarding again', intervalMs: 500 });
    await breakSample();
    await waitFor(async () => (await daemonLog(since)).includes(LEFT), 30_000, { what: 'the daemon left the failure to the admin', intervalMs: 500 });
    expect(summary((await journal()).slice(n))).toEqual(['pause by user']);
    // the pause's end, journaled by the daemon's timer, and the failure taken up then
    await alertAfter(n, 'an alert once the pause ended by itself');
    expect(summary((await journal()).slice(n))).toEqual(['pause by user', 'resume by expiry', 'alert']);
    await repairSample();
  }, 120_000);
});
