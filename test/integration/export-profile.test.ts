// export --format profile after a real tune (issue 16): the profile holds the accepted set `export
// --format json` prints, the systemd and kernel that verified it, the unit's ExecStart argv, what
// observation of the running unit shows, the probes and declarations the tune was given; the same
// read by this process and by the daemon (which gathers the live parts on its own connection); and
// a stopped unit's profile says why its facts are empty.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProfile, type Profile } from '../../src/core/profile.js';
import { type Box, SAMPLE_UNIT, SAMPLE_URL, SRC_IN_BOX, boxName, startBox } from '../harness/box.js';

let box: Box;
let local: Profile;
let accepted: Array<{ option: string; value: string }>;

async function exportProfile(): Promise<Profile> {
  const r = await box.cli(['export', SAMPLE_UNIT, '--format', 'profile']);
  expect(r.code, r.stderr).toBe(0);
  return parseProfile(r.stdout, 'exported');
}

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url, 'fp'));
  await box.installSample();
  const t = await box.cli(['tune', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '1200ms', '--local-only', '--json'], { timeoutMs: 500_000 });
  expect(t.code, t.stderr.slice(-2000)).toBe(0);
  accepted = JSON.parse((await box.cli(['export', SAMPLE_UNIT, '--format', 'json'])).stdout) as typeof accepted;
  local = await exportProfile();
}, 600_000);

afterAll(async () => {
  await box?.stop();
});

describe('export --format profile after a tune', { timeout: 120_000 }, () => {
  it('holds the accepted set with what verified it', async () => {
    expect(local.unit).toBe(SAMPLE_UNIT);
    expect(local.settings.map((s) => [s.option, s.value])).toEqual(accepted.map((s) => [s.option, s.value]));
    expect(local.settings.length).toBeGreaterThan(3);
    const systemd = Number(/systemd (\d+)/.exec(await box.check(['systemctl', '--version']))![1]);
    expect(local.source.systemd).toBe(systemd);
    expect(local.source.kernel).toBe((await box.check(['uname', '-r'])).trim());
    expect(local.source.features).toContain('SECCOMP');
    expect(local.probes).toEqual([SAMPLE_URL]);
    expect(local.declarations).toEqual({ allowNet: [], localOnly: true, confineSessions: false });
    expect(local.exposure.before!).toBeGreaterThan(local.exposure.after!);
  });

  it("reads ExecStart's argv over D-Bus and observes the running unit", () => {
    expect(local.execStart).toHaveLength(1);
    expect(local.execStart[0]![0]).toMatch(/node$/);
    expect(local.execStart[0]!.some((a) => a.endsWith('autoharden-sample.mjs'))).toBe(true);
    expect(local.facts.unobserved).toBeUndefined();
    expect(local.facts.listens).toContain('tcp/81');
    expect(local.facts.uids.length).toBeGreaterThan(0);
  });

  it('is the same through the daemon, which reads the live parts itself', async () => {
    await box.check(['sh', `${SRC_IN_BOX}/scripts/daemon-install.sh`]);
    expect((await box.show('autoharden.service', ['ActiveState'])).ActiveState).toBe('active');
    const viaDaemon = await exportProfile();
    const same = (p: Profile) => ({ ...p, created: '', facts: { ...p.facts, writes: [] } });
    expect(same(viaDaemon)).toEqual(same(local));
  });

  it("says why a stopped unit's facts are empty", async () => {
    await box.check(['systemctl', 'stop', SAMPLE_UNIT]);
    const p = await exportProfile();
    expect(p.facts).toMatchObject({ listens: [], writes: [], uids: [] });
    expect(p.facts.unobserved).toMatch(/not running when exported \(ActiveState=inactive\)/);
    expect(p.settings).toEqual(local.settings);
  });
});
