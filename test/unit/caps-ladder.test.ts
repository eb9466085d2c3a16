// The bounding set's ladder with a prediction from observation (core/capsObserved.ts): the
// predicted set is tried first with a high chance, `empty` is left out with the reason, a rejected
// prediction is not retried, and the minimisation never tries removing what observation says the
// unit needs.
import { describe, expect, it } from 'vitest';
import { ALL_CAPS_MASK, maskFromCaps } from '../../src/core/capabilities.js';
import { buildCandidates } from '../../src/core/candidates.js';
import { CATALOG, optionByName } from '../../src/core/catalog.js';
import { minimisationPlans } from '../../src/core/minimize.js';
import { toSetting } from '../../src/core/plan.js';
import { NO_DECLARATIONS, type SafetyFacts } from '../../src/core/policy.js';
import { estimateRestarts, firstBatches, ladders } from '../../src/core/preview.js';
import { observedPrior } from '../../src/core/priors.js';
import { inForce } from '../../src/core/setting.js';
import type { EffectiveSettings, Setting } from '../../src/core/types.js';
import { DEBIAN12_PLATFORM } from '../fakes/platforms.js';

const base: SafetyFacts = { usesInet: true, inetEndpoints: [], nonLoopbackListeners: [], families: [], peers: [], sessionEvidence: [], createdModes: [], writableDirs: [] };
const NGINX: SafetyFacts = {
  ...base, uids: [0, 33], commands: ['nginx'], inetEndpoints: ['tcp 0.0.0.0:80'],
  capsNeeded: [
    { cap: 'CAP_DAC_OVERRIDE', why: 'root writes /var/log/nginx/access.log owned by uid 33 mode 0640' },
    { cap: 'CAP_SETGID', why: 'nginx runs as gid 33 under root nginx' },
    { cap: 'CAP_SETUID', why: 'nginx runs as uid 33 under root nginx' },
    { cap: 'CAP_NET_BIND_SERVICE', why: 'listens on tcp port 80' },
  ],
};
const NGINX_KEEP = ['CAP_DAC_OVERRIDE', 'CAP_SETGID', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE'];
const caps = optionByName('CapabilityBoundingSet')!;

function build(facts: SafetyFacts, eff: EffectiveSettings = {}, rejected: string[] = []) {
  const { candidates, skipped } = buildCandidates({
    catalog: CATALOG, platform: DEBIAN12_PLATFORM, eff, accepted: [], rolledBack: new Set(), rejected: new Set(rejected), facts, declarations: NO_DECLARATIONS,
  });
  const c = candidates.find((x) => x.spec.name === 'CapabilityBoundingSet');
  return { candidates, c, skips: skipped.filter((s) => s.option === 'CapabilityBoundingSet') };
}

describe('CapabilityBoundingSet with a prediction', () => {
  it('tries the predicted set first, then daemon and no-admin; empty is left out with the reasons', () => {
    const { c, skips } = build(NGINX);
    expect(c!.rungs.map((r) => r.value)).toEqual(['keep DAC_OVERRIDE SETGID SETUID NET_BIND_SERVICE', 'daemon', 'no-admin']);
    expect(skips).toHaveLength(1);
    expect(skips[0]!.value).toBe('empty');
    expect(skips[0]!.reason).toMatch(/^empty not tried: the running unit needs DAC_OVERRIDE \(root writes \/var\/log\/nginx\/access\.log.*SETUID \(nginx runs as uid 33 under root nginx\), NET_BIND_SERVICE \(listens on tcp port 80\)$/);
    const r = c!.rungs[0]!;
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^CapabilityBoundingSet=~/);
    for (const k of NGINX_KEEP) expect(r.lines[0]!.split(/[=~ ]/)).not.toContain(k);
    expect(r.lines[0]).toContain('CAP_SYS_ADMIN');
    expect(r.residual).toBeLessThan(caps.ladder[1]!.residual);
  });

  it('its setting carries the kept capabilities, so whether it is in force is read from the bounding set', () => {
    const s = toSetting(caps, build(NGINX).c!.rungs[0]!);
    expect(s).toMatchObject({ option: 'CapabilityBoundingSet', rung: 'observed', items: NGINX_KEEP });
    expect(inForce(s, { CapabilityBoundingSet: maskFromCaps(NGINX_KEEP) })).toBe(true);
    expect(inForce(s, { CapabilityBoundingSet: maskFromCaps(['CAP_SETUID']) })).toBe(true);
    expect(inForce(s, { CapabilityBoundingSet: maskFromCaps([...NGINX_KEEP, 'CAP_CHOWN']) })).toBe(false);
    expect(inForce(s, { CapabilityBoundingSet: ALL_CAPS_MASK })).toBe(false);
  });

  it('gives the predicted rung a high chance, raises empty’s when nothing is needed by a unit without root, keeps the root rule otherwise', () => {
    expect(observedPrior(caps, NGINX)).toBe(0.8);
    expect(observedPrior(caps, { ...base, uids: [105], capsNeeded: [] })).toBe(0.7);
    expect(observedPrior(caps, { ...base, uids: [0], capsNeeded: [] })).toBeLessThanOrEqual(0.05);
    expect(observedPrior(caps, { ...base, uids: [0, 33] })).toBeLessThanOrEqual(0.05);
    expect(observedPrior(caps, { ...base, uids: [105] })).toBe(caps.prior);
    // postgresql: no root process left, but the switch it made shows in the prediction
    const pg = { ...base, uids: [101], capsNeeded: [{ cap: 'CAP_SETGID', why: 'g' }, { cap: 'CAP_SETUID', why: 'u' }] };
    expect(observedPrior(optionByName('SystemCallFilter')!, pg)).toBeLessThanOrEqual(0.1);
  });

  it('leaves the ladder as it is when nothing is needed or nothing could be read', () => {
    expect(build({ ...base, capsNeeded: [] }).c!.rungs.map((r) => r.value)).toEqual(['empty', 'daemon', 'no-admin']);
    expect(build(base).c!.rungs.map((r) => r.value)).toEqual(['empty', 'daemon', 'no-admin']);
    expect(build(base).skips).toEqual([]);
  });

  it('only narrows what the vendor left: a needed capability already dropped is not kept', () => {
    const eff = { CapabilityBoundingSet: maskFromCaps(['CAP_SETUID', 'CAP_SETGID', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN']) };
    const { c } = build(NGINX, eff);
    expect(c!.rungs.map((r) => r.value)).toEqual(['keep SETGID SETUID NET_BIND_SERVICE']);
    // already no more than needed: nothing to try
    const tight = build(NGINX, { CapabilityBoundingSet: maskFromCaps(['CAP_SETUID', 'CAP_NET_BIND_SERVICE']) });
    expect(tight.c).toBeUndefined();
    expect(tight.skips[0]!.reason).toMatch(/keeps no more than observation says it needs/);
  });

  it('does not retry a rejected prediction (a resumed tune)', () => {
    const { c, skips } = build(NGINX, {}, ['CapabilityBoundingSet=keep DAC_OVERRIDE SETGID SETUID NET_BIND_SERVICE']);
    expect(c!.rungs.map((r) => r.value)).toEqual(['daemon', 'no-admin']);
    expect(skips.map((s) => s.value)).toEqual(['empty']);
  });

  it('plan shows the rung and the planner tries it in its first trial', () => {
    const { candidates } = build(NGINX);
    const view = ladders(candidates, NGINX).find((l) => l.option === 'CapabilityBoundingSet')!;
    expect(view).toMatchObject({ rungs: ['keep DAC_OVERRIDE SETGID SETUID NET_BIND_SERVICE', 'daemon', 'no-admin'], prior: 0.8 });
    const { batches } = firstBatches('adaptive', candidates, NGINX);
    expect(batches[0]!.settings).toContain('CapabilityBoundingSet=keep DAC_OVERRIDE SETGID SETUID NET_BIND_SERVICE');
    // the predicted set accepted leaves nothing to minimise: one trial; daemon accepted after it
    // failed leaves only what observation does not claim
    const only = candidates.filter((x) => x.spec.name === 'CapabilityBoundingSet');
    const est = estimateRestarts({ strategy: 'one-at-a-time', cands: only, facts: NGINX, eff: {}, catalog: CATALOG, runs: 5 });
    expect(est.minimiseItems).toBe(0);
    expect(est.allPass.trials).toBe(1);
    const daemonOnly = [{ ...only[0]!, rungs: only[0]!.rungs.slice(1) }];
    expect(estimateRestarts({ strategy: 'one-at-a-time', cands: daemonOnly, facts: NGINX, eff: {}, catalog: CATALOG, runs: 5 }).minimiseItems).toBe(16 - 4);
  });
});

describe('minimisation with a prediction', () => {
  const daemon = caps.ladder.find((r) => r.value === 'daemon')!;
  const accepted: Setting[] = [{ option: 'CapabilityBoundingSet', value: 'daemon', lines: daemon.lines }];
  const daemonEff = { CapabilityBoundingSet: maskFromCaps(['CAP_CHOWN', 'CAP_KILL', ...NGINX_KEEP]) };
  const tried = (facts: SafetyFacts | undefined, acc: readonly Setting[], eff: EffectiveSettings) =>
    minimisationPlans(acc, eff, facts, 'one-at-a-time').flatMap((p) => {
      const out: string[] = [];
      for (let g = p.m.next(); g; g = p.m.next()) {
        out.push(...g);
        p.m.report(true);
      }
      return out;
    });

  it('never tries removing a capability observation says is needed', () => {
    expect(tried(NGINX, accepted, daemonEff)).toEqual(['CAP_CHOWN', 'CAP_KILL']);
    expect(tried(base, accepted, daemonEff)).toEqual(['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE']);
    expect(tried(undefined, accepted, daemonEff)).toHaveLength(6);
  });

  it('a step keeps the needed capabilities', () => {
    const [plan] = minimisationPlans(accepted, daemonEff, NGINX, 'one-at-a-time');
    const step = plan!.make(['CAP_CHOWN', 'CAP_KILL']);
    expect(step.items).toEqual(NGINX_KEEP);
  });

  it('leaves nothing to minimise once the predicted set is accepted', () => {
    const s = toSetting(caps, build(NGINX).c!.rungs[0]!);
    expect(tried(NGINX, [s], { CapabilityBoundingSet: maskFromCaps(NGINX_KEEP) })).toEqual([]);
    expect(minimisationPlans([s], { CapabilityBoundingSet: maskFromCaps(NGINX_KEEP) }, NGINX, 'adaptive')).toEqual([]);
  });
});
