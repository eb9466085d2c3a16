// The values systemd 257 added, on a real 257: a box booted from a Debian 13 root
// (scripts/make-root.sh trixie). Tuning the bundled sample ends with PrivateTmp=disconnected and
// ProtectControlGroups=strict accepted and read back; PrivatePIDs=yes makes the sample PID 1 of
// its namespace and `systemctl stop` does not hang on it; PrivateUsers=identity is offered and
// `full` (258) is not. Runs only when AUTOHARDEN_TEST_ROOT names a root whose systemd is 257, e.g.
//   AUTOHARDEN_TEST_ROOT=/var/cache/autoharden/roots/trixie npx vitest run --project integration test/integration/release-values.test.ts
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, SAMPLE_UNIT, SAMPLE_URL, startBox, waitFor } from '../harness/box.js';

const ROOT = process.env.AUTOHARDEN_TEST_ROOT ?? '';
const STAMP = join(ROOT, '.autoharden-root');
const PIDS_DROPIN = `/etc/systemd/system/${SAMPLE_UNIT}.d/nv-private-pids.conf`;

interface Outcome { option: string; value: string; reason: string }
interface Report { accepted: Outcome[]; rejected: Outcome[]; skipped: Outcome[] }

const title = ROOT
  ? `systemd 257's new values in a box booted from ${ROOT}`
  : "systemd 257's new values (skipped: set AUTOHARDEN_TEST_ROOT to a trixie root built by scripts/make-root.sh)";

describe.skipIf(!ROOT)(title, () => {
  let box: Box;

  beforeAll(async () => {
    if (!existsSync(STAMP)) throw new Error(`AUTOHARDEN_TEST_ROOT=${ROOT} is not a root built by scripts/make-root.sh (no ${STAMP})`);
    box = await startBox(`nv-values-${process.pid}`, { root: ROOT });
    const v = await box.check(['systemctl', '--version']);
    // these facts are 257's; another release would need its own expectations
    if (!/^systemd 257 /.test(v)) throw new Error(`this test needs systemd 257 in the root, got: ${v.split('\n')[0]}`);
    await box.installSample();
  }, 120_000);

  afterAll(async () => {
    await box?.stop();
  });

  describe('PrivatePIDs=yes on the sample', () => {
    let mainPid = 0;

    beforeAll(async () => {
      await box.writeFile(PIDS_DROPIN, '[Service]\nPrivatePIDs=yes\n');
      await box.check(['systemctl', 'daemon-reload']);
      await box.check(['systemctl', 'restart', SAMPLE_UNIT]);
      await waitFor(async () => (await box.http(SAMPLE_URL, { timeoutMs: 1000 })).status === 200, 20_000, { what: 'the sample answers under PrivatePIDs=yes' });
      mainPid = Number((await box.show(SAMPLE_UNIT, ['MainPID'])).MainPID);
    }, 60_000);

    it('reads back "yes" and makes the main process PID 1 of its own namespace', async () => {
      expect((await box.show(SAMPLE_UNIT, ['PrivatePIDs'])).PrivatePIDs).toBe('yes');
      expect(mainPid).toBeGreaterThan(1);
      // NSpid: the PID in each namespace, outermost first; the kernel's word, not systemd's
      const status = (await box.check(['cat', `/proc/${mainPid}/status`]));
      const nspid = /^NSpid:\s*(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
      expect(nspid, status).toHaveLength(2);
      expect(nspid[0]).toBe(String(mainPid));
      expect(nspid[1]).toBe('1');
    });

    it('stops without waiting for the stop timeout', async () => {
      const stop = await box.exec(['systemctl', 'stop', SAMPLE_UNIT], { timeoutMs: 200_000 });
      expect(stop.code, stop.stderr).toBe(0);
      const s = await box.show(SAMPLE_UNIT, ['ActiveState', 'Result', 'ExecMainCode', 'ExecMainStatus']);
      expect(s.ActiveState).not.toBe('active');
      expect(s.Result).not.toBe('timeout');
      // Measured on 257.13 (kernel 6.18): when systemd logs "Supervising process N which is not our
      // child", `stop` SIGKILLs the unit at once (Result=signal, status 9) instead of sending SIGTERM;
      // when the payload is its child it stops by SIGTERM (Result=success). Either way no timeout.
      // The graceful case is not asserted: it does not hold on this systemd (see the catalog entry).
      expect([['inactive', 'success'], ['failed', 'signal']], JSON.stringify(s)).toContainEqual([s.ActiveState, s.Result]);
      if (s.Result === 'signal') expect(s.ExecMainStatus).toBe('9');
    }, 220_000);

    afterAll(async () => {
      await box.check(['rm', '-f', PIDS_DROPIN]);
      await box.check(['systemctl', 'daemon-reload']);
      await box.check(['systemctl', 'reset-failed', SAMPLE_UNIT]).catch(() => undefined);
      await box.check(['systemctl', 'start', SAMPLE_UNIT]);
      await waitFor(async () => (await box.http(SAMPLE_URL, { timeoutMs: 1000 })).status === 200, 20_000, { what: 'the sample answers again' });
    }, 60_000);
  });

  describe('tune the sample', () => {
    let report: Report;
    const tried = () => [...report.accepted, ...report.rejected].map((o) => `${o.option}=${o.value}`);

    beforeAll(async () => {
      const r = await box.cli(['tune', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '1200ms', '--strategy', 'one-at-a-time', '--json'],
        { timeoutMs: 900_000 });
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      report = JSON.parse(r.stdout) as Report;
    }, 920_000);

    it('accepts PrivateTmp=disconnected and ProtectControlGroups=strict, and systemd reads them back', async () => {
      const acc = report.accepted.map((o) => `${o.option}=${o.value}`);
      expect(acc).toEqual(expect.arrayContaining(['PrivateTmp=disconnected', 'ProtectControlGroups=strict']));
      expect(acc).not.toContain('PrivateTmp=yes');
      expect(acc).not.toContain('ProtectControlGroups=yes');
      const eff = await box.show(SAMPLE_UNIT, ['PrivateTmp', 'PrivateTmpEx', 'ProtectControlGroups', 'ProtectControlGroupsEx', 'ActiveState']);
      expect(eff).toEqual({
        PrivateTmp: 'yes', PrivateTmpEx: 'disconnected', ProtectControlGroups: 'yes', ProtectControlGroupsEx: 'strict', ActiveState: 'active',
      });
      expect((await box.http(SAMPLE_URL)).status).toBe(200);
    });

    it('runs strict in its own cgroup namespace here (the Ex property alone cannot tell)', async () => {
      const pid = (await box.show(SAMPLE_UNIT, ['MainPID'])).MainPID;
      const ns = await box.check(['readlink', `/proc/${pid}/ns/cgroup`, '/proc/1/ns/cgroup']);
      const [svc, init] = ns.trim().split('\n');
      expect(svc).toMatch(/^cgroup:\[\d+\]$/);
      expect(svc).not.toBe(init);
      // and /tmp is a tmpfs of its own, not a directory of the host's /tmp (mountinfo read from
      // outside: ProcSubset=pid may have left no /proc/mounts inside)
      const info = await box.check(['cat', `/proc/${pid}/mountinfo`]);
      const tmp = info.split('\n').filter((l) => l.split(' ')[4] === '/tmp').at(-1) ?? '';
      expect(tmp.split(' - ')[1]?.split(' ')[0], info).toBe('tmpfs');
    });

    it('does not try PrivatePIDs (its stop is not graceful here, which a trial cannot see) and says so', () => {
      expect(tried()).not.toContain('PrivatePIDs=yes');
      expect(report.skipped.find((o) => o.option === 'PrivatePIDs')?.reason).toMatch(/SIGKILL at stop/);
    });

    it('offers PrivateUsers=identity on 257 (tried) and never full, which 257 does not parse', () => {
      // the sample binds port 81: without CAP_NET_BIND_SERVICE towards the host it fails either way
      expect(tried()).toEqual(expect.arrayContaining(['PrivateUsers=yes', 'PrivateUsers=identity']));
      const all = [...report.accepted, ...report.rejected, ...report.skipped].map((o) => `${o.option}=${o.value}`);
      expect(all).not.toContain('PrivateUsers=full');
      expect(all).not.toContain('ProtectHostname=private');
    });
  });
});
