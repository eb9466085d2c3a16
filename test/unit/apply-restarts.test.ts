// apply's restarts (engine/apply.ts over the tune engine, fake ports): a profile this host takes
// whole costs one trial; one setting it cannot take among n is found by halving, and only it is
// rejected. Nothing beyond the profile is ever tried.
//
// Bound: 1 + ceil(log2 n) trials locate the culprit, but a search that accepts only what a passing
// trial held needs that last trial to pass with everything else in it; when the culprit sat in the
// half that was tried last, the rest takes one trial more: at most 2 + ceil(log2 n).
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
  it.each(OPTIONS)('one setting this host cannot take (%s): only it rejected, within 2 + ceil(log2 8) trials', async (bad) => {
    const { out, trials, accepted, healthy, ports } = await run([bad]);
    counts.set(bad, trials);
    const trialCap = 2 + Math.ceil(Math.log2(OPTIONS.length));
    expect(out.settings.filter((r) => r.status === 'rejected').map((r) => r.option)).toEqual([bad]);
    expect(accepted()).toEqual(OPTIONS.filter((o) => o !== bad).sort());
    expect(trials).toBeLessThanOrEqual(trialCap);
    expect(healthy()).toBe(true);
    // only the profile's settings were ever tried
    const tried = new Set(ports.journal.read().flatMap((r) => (r.kind === 'trial-begin' ? r.settings.map((x) => x.option) : [])));
    expect([...tried].every((o) => OPTIONS.includes(o))).toBe(true);
    expect(ports.journal.read().find((r) => r.kind === 'tune-begin')).toMatchObject({ profile: { host: 'canary', created: '2026-12-01T10:00:00Z' } });
  });

  it('halving: where the culprit was always in the half left out, 1 + ceil(log2 8) trials', () => {
    expect(counts.size).toBe(OPTIONS.length);
    expect(Math.min(...counts.values())).toBe(1 + Math.ceil(Math.log2(OPTIONS.length)));
  });

  it('a setting failing only after a while is caught by the same judgment and rejected alone', async () => {
    const { out, healthy } = await run([], ['LockPersonality']);
    expect(out.settings.filter((r) => r.status === 'rejected').map((r) => r.option)).toEqual(['LockPersonality']);
    expect(healthy()).toBe(true);
  });
});
