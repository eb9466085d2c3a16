// apply's restarts (engine/apply.ts over the tune engine, fake ports): a profile this host takes
// whole costs one trial; one setting it cannot take among n is found by bisection by exclusion
// (core/profileSearch.ts), and only it is rejected. Nothing beyond the profile is ever tried.
//
// Bound: the whole profile, then ceil(log2 n) trials that each leave out half of the suspects:
// 1 + ceil(log2 n) restarts. When the last of them failed, the final set (everything but the
// culprit) has not run yet: one more restart runs it, and the confirmation watches that invocation
// in place. So 1 + ceil(log2 n) plus the confirmation's restart at most, and no revert between.
import { describe, expect, it } from 'vitest';
import { CATALOG, optionByName, usableOptions } from '../../src/core/catalog.js';
import { DEBIAN12_PLATFORM } from '../fakes/platforms.js';
import { toSetting } from '../../src/core/plan.js';
import type { Profile } from '../../src/core/profile.js';
import { applyProfile } from '../../src/engine/apply.js';
import { simulatedService } from '../fakes/simService.js';

const OPTIONS = ['PrivateTmp', 'ProtectKernelModules', 'ProtectKernelLogs', 'ProtectClock', 'NoNewPrivileges', 'RestrictRealtime', 'LockPersonality', 'ProtectHostname'];

function profileOf(options: readonly string[]): Profile {
  return {
    format: 'autoharden-profile', version: 1, unit: 'sim.service', created: '2026-12-01T10:00:00Z',
    source: { host: 'canary', autoharden: '0.0.0', systemd: 252, kernel: '6.1.0-28-amd64' },
    execStart: [['/usr/bin/sim']], facts: { listens: [], writes: [], uids: [0] }, probes: [],
    declarations: { allowNet: [], localOnly: false, confineSessions: false }, exposure: { before: 9.6, after: 5 },
    // each option's strongest value on the fakes' systemd 252
    settings: options.map((o) => toSetting(optionByName(o)!, usableOptions([optionByName(o)!], DEBIAN12_PLATFORM)[0]!.ladder[0]!)),
  };
}

const O = { unit: 'sim.service', probes: [], settleMs: 100, persist: true, declarations: { allowNet: [], localOnly: false, confineSessions: false } };

async function run(breaks: string[], late: string[] = []) {
  const s = simulatedService({ breaks, late });
  const out = await applyProfile(s.ports, O, CATALOG, profileOf(OPTIONS));
  const trials = s.ports.journal.read().filter((r) => r.kind === 'trial-end').length;
  return { ...s, out, trials };
}

describe('apply: restarts', () => {
  it('a profile this host takes whole: one trial, one restart, everything applied', async () => {
    const { out, trials, sim, accepted, healthy } = await run([]);
    expect(trials).toBe(1);
    expect(sim.restarts).toBe(1); // the confirmation watches the invocation the trial started
    expect(out.report.restarts).toBe(1);
    expect(out.settings.every((r) => r.status === 'applied')).toBe(true);
    expect(accepted()).toEqual([...OPTIONS].sort());
    expect(healthy()).toBe(true);
  });

  const counts = new Map<string, number>();
  it.each(OPTIONS)('one setting this host cannot take (%s): only it rejected, within 1 + ceil(log2 8) restarts plus the confirmation', async (bad) => {
    const { out, trials, accepted, healthy, ports, sim } = await run([bad]);
    counts.set(bad, sim.restarts);
    expect(out.settings.filter((r) => r.status === 'rejected').map((r) => r.option)).toEqual([bad]);
    expect(accepted()).toEqual(OPTIONS.filter((o) => o !== bad).sort());
    expect(sim.restarts).toBeLessThanOrEqual(1 + Math.ceil(Math.log2(OPTIONS.length)) + 1);
    // every restart is a trial: no revert between failures, the confirmation watches in place
    expect(sim.restarts).toBe(trials);
    expect(out.report.restarts).toBe(sim.restarts);
    expect(healthy()).toBe(true);
    // only the profile's settings were ever tried
    const tried = new Set(ports.journal.read().flatMap((r) => (r.kind === 'trial-begin' ? r.settings.map((x) => x.option) : [])));
    expect([...tried].every((o) => OPTIONS.includes(o))).toBe(true);
    expect(ports.journal.read().find((r) => r.kind === 'tune-begin')).toMatchObject({ profile: { host: 'canary', created: '2026-12-01T10:00:00Z' } });
  });

  it('where the culprit was in the half left out last, the last split passed and ran the final set: 1 + ceil(log2 8) restarts in all', () => {
    expect(counts.size).toBe(OPTIONS.length);
    expect(Math.min(...counts.values())).toBe(1 + Math.ceil(Math.log2(OPTIONS.length)));
  });

  it('two settings this host cannot take: the failed presumption is searched again, both rejected, every other applied', async () => {
    for (const breaks of [['PrivateTmp', 'ProtectClock'], ['NoNewPrivileges', 'ProtectHostname'], ['PrivateTmp', 'ProtectHostname']]) {
      const { out, accepted, healthy } = await run(breaks);
      expect(out.settings.filter((r) => r.status === 'rejected').map((r) => r.option).sort(), breaks.join(' ')).toEqual([...breaks].sort());
      expect(accepted()).toEqual(OPTIONS.filter((o) => !breaks.includes(o)).sort());
      expect(healthy()).toBe(true);
    }
  });

  it('a setting failing only after a while is caught by the same judgment and rejected alone', async () => {
    const { out, healthy } = await run([], ['LockPersonality']);
    expect(out.settings.filter((r) => r.status === 'rejected').map((r) => r.option)).toEqual(['LockPersonality']);
    expect(healthy()).toBe(true);
  });
});
