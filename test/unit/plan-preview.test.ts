// `autoharden plan`'s predictions (core/preview.ts): that its batches and restart counts are the
// engine's — the tune engine is driven on a simulated service and compared — and that its exposure
// prediction scores like systemd-analyze.
import { describe, expect, it } from 'vitest';
import { parseAnalyzeRows, type AnalyzeRows } from '../../src/core/analyzeRows.js';
import { buildCandidates } from '../../src/core/candidates.js';
import type { Candidate } from '../../src/core/plan.js';
import { NO_DECLARATIONS, type SafetyFacts } from '../../src/core/policy.js';
import { drawFragility, effAfter, estimateRestarts, firstBatches, ladders, predictExposure, restartsOf } from '../../src/core/preview.js';
import { CAPS_LADDER } from '../../src/core/boundingSet.js';
import { prng } from '../../src/core/searchSim.js';
import { CAPABILITIES, capsFromMask, maskFromCaps } from '../../src/core/capabilities.js';
import type { OptionSpec } from '../../src/core/types.js';
import { tune } from '../../src/engine/tune.js';
import { simulatedService } from '../fakes/simService.js';
import { DEBIAN12_PLATFORM } from '../fakes/platforms.js';
import { readFileSync } from 'node:fs';

const FACTS: SafetyFacts = { usesInet: false, inetEndpoints: [], nonLoopbackListeners: [], families: [], peers: [], sessionEvidence: [], createdModes: [], writableDirs: [] };

const option = (name: string, weight: number, prior: number): OptionSpec => ({
  name, family: 'filesystem', weight, cost: 'free', safety: 'verifiable', confinesSessions: false, prior, minSystemd: 200,
  properties: [name], exitStatuses: [226], logHints: [], summary: name,
  ladder: [{ value: 'yes', lines: [`${name}=yes`], residual: 0, inForce: (eff) => eff[name] === true }],
});
// risky and safe ones mixed, so that the planner batches in more than one way
const CATALOG = [option('A', 900, 0.9), option('B', 800, 0.3), option('C', 700, 0.95), option('D', 600, 0.2), option('F', 650, 0.4), option('G', 500, 0.85)];

const candidates = (): Candidate[] =>
  buildCandidates({
    catalog: CATALOG, platform: DEBIAN12_PLATFORM, eff: {}, accepted: [], rolledBack: new Set(), rejected: new Set(), facts: FACTS, declarations: NO_DECLARATIONS,
  }).candidates;

/** The real engine on a service that fails to start under `breaks`; the trials and verdicts it ran. */
async function engine(strategy: 'one-at-a-time' | 'adaptive', breaks: string[]) {
  const { ports, sim } = simulatedService({ breaks });
  const events = sim.events;
  const report = await tune(ports, { unit: 'sim.service', probes: [], settleMs: 100, strategy, persist: false, declarations: NO_DECLARATIONS }, CATALOG);
  const trials = events.filter((e) => e.type === 'trial').map((e) => (e.type === 'trial' ? e.settings.map((s) => `${s.option}=${s.value}`) : []));
  const verdicts = events.filter((e) => e.type === 'verdict').map((e) => e.type === 'verdict' && e.outcome === 'accepted');
  return { report, trials, verdicts };
}

describe('plan predicts what the tune engine does', () => {
  it.each(['adaptive', 'one-at-a-time'] as const)('%s: the batches are the trials the engine runs when every trial passes', async (strategy) => {
    const { batches, total } = firstBatches(strategy, candidates(), FACTS, 100);
    const run = await engine(strategy, []);
    expect(batches.map((b) => b.settings)).toEqual(run.trials);
    expect(total).toBe(run.trials.length);
    if (strategy === 'adaptive') {
      // the first trial is the prediction: every option whose prior is at least one half, and its chance the product
      expect([...batches[0]!.settings].sort()).toEqual(['A=yes', 'C=yes', 'G=yes']);
      expect(batches[0]!.passChance).toBeCloseTo(0.9 * 0.95 * 0.85, 6);
    } else expect(batches.every((b) => b.settings.length === 1)).toBe(true);
    expect(estimateRestarts({ strategy, cands: candidates(), facts: FACTS, eff: {}, catalog: CATALOG, runs: 20 }).allPass.restarts).toBe(run.report.restarts);
  });

  it.each([
    ['adaptive', ['B']], ['adaptive', ['B', 'D', 'F']], ['adaptive', ['A', 'C']],
    ['one-at-a-time', ['B']], ['one-at-a-time', ['A', 'D']],
  ] as const)('%s breaking %j: restartsOf counts the restarts the engine makes for its verdicts', async (strategy, breaks) => {
    const run = await engine(strategy, [...breaks]);
    expect(run.verdicts.length).toBe(run.report.trials);
    expect(restartsOf(strategy, run.verdicts)).toBe(run.report.restarts);
  });
});

describe('restartsOf', () => {
  it('counts a trial each, reverts as the engine does them, and the adaptive confirmation', () => {
    expect(restartsOf('adaptive', [])).toBe(0);
    // the confirmation watches the invocation that already runs the accepted set: no restart
    expect(restartsOf('adaptive', [true, true])).toBe(2);
    expect(restartsOf('adaptive', [false, true])).toBe(2); // the next trial's restart is the revert
    expect(restartsOf('adaptive', [false, false, true])).toBe(4); // two in a row: a revert of their own
    expect(restartsOf('adaptive', [true, false])).toBe(3); // a revert still due at the end
    // a setting systemd stops enforcing at a reload is confirmed by a restart
    expect(restartsOf('adaptive', [true, true], true)).toBe(3);
    expect(restartsOf('one-at-a-time', [false, true, false])).toBe(5);
    expect(restartsOf('one-at-a-time', [true])).toBe(1);
  });
});

describe('estimateRestarts', () => {
  const input = { strategy: 'adaptive' as const, cands: candidates(), facts: FACTS, eff: {}, catalog: CATALOG };

  it('is the same for the same seed, and ordered all-pass ≤ low ≤ expected ≤ high ≤ all-fail (no minimisation here)', () => {
    const a = estimateRestarts({ ...input, runs: 100, seed: 7 });
    expect(estimateRestarts({ ...input, runs: 100, seed: 7 })).toEqual(a);
    const { allPass, allFail, restarts, trials } = a;
    expect(allPass.restarts).toBeLessThanOrEqual(restarts.low);
    expect(restarts.low).toBeLessThanOrEqual(restarts.expected);
    expect(restarts.expected).toBeLessThanOrEqual(restarts.high);
    expect(restarts.high).toBeLessThanOrEqual(allFail.restarts);
    expect(trials.expected).toBeLessThanOrEqual(restarts.expected);
    expect(allPass.restarts).toBeLessThan(allFail.restarts);
  });

  it('expects the best case when every option is near-certain, and more when they are risky', () => {
    const sure = [option('A', 900, 0.99), option('C', 700, 0.99)];
    const risky = [option('A', 900, 0.1), option('C', 700, 0.1)];
    const cands = (cat: OptionSpec[]) => buildCandidates({ catalog: cat, platform: DEBIAN12_PLATFORM, eff: {}, accepted: [], rolledBack: new Set(), rejected: new Set(), facts: FACTS, declarations: NO_DECLARATIONS }).candidates;
    const s = estimateRestarts({ ...input, cands: cands(sure), catalog: sure });
    expect(s.restarts.expected).toBe(s.allPass.restarts);
    const r = estimateRestarts({ ...input, cands: cands(risky), catalog: risky });
    expect(r.restarts.expected).toBeGreaterThan(r.allPass.restarts);
  });
});

describe('ladders', () => {
  it('lists the options in the order the planner weighs them, with the chance it gives each', () => {
    const l = ladders(candidates(), FACTS);
    expect(l[0]).toMatchObject({ option: 'A', rungs: ['yes'], prior: 0.9, weight: 900 });
    expect(l.map((x) => x.option)).toContain('D');
  });
});

describe('predictExposure', () => {
  const spec = (name: string, prior: number, residuals: number[]): Candidate => {
    const o = option(name, 1000, prior);
    const rungs = residuals.map((residual, i) => ({ value: `r${i}`, lines: [`${name}=r${i}`], residual, inForce: () => false }));
    return { spec: { ...o, ladder: rungs }, rungs };
  };
  const rows: AnalyzeRows = [
    { field: 'ProtectSystem', weight: 1000, range: 10, badness: 10 },
    { field: 'Unrelated', weight: 1000, range: 1, badness: 1 },
    { field: 'NotApplicable', weight: 5000, range: 1 },
  ];

  it('scores the strongest rungs as analyze would, and the expectation between that and now', () => {
    const sure = predictExposure(rows, [spec('ProtectSystem', 0.98, [0, 0.5])], FACTS)!;
    expect(sure.best).toBe(5); // ceil((0 + 1000)·100 / 2000)/10: the check that does not apply counts for nothing
    expect(sure.expected).toBeGreaterThanOrEqual(5);
    expect(sure.expected).toBeLessThan(5.2);
    const unlikely = predictExposure(rows, [spec('ProtectSystem', 0.02, [0])], FACTS)!;
    expect(unlikely.expected).toBeGreaterThan(9.8);
    expect(unlikely.best).toBe(5);
  });

  it('never predicts worse than now, and nothing without rows', () => {
    // a rung weaker than what is in force leaves the check as it is
    const p = predictExposure([{ field: 'ProtectSystem', weight: 1000, range: 10, badness: 2 }], [spec('ProtectSystem', 0.5, [0.5])], FACTS)!;
    expect(p.expected).toBe(2); // as now: ceil(2·1000/10)·100/1000 / 10
    expect(predictExposure(undefined, [spec('ProtectSystem', 0.5, [0])], FACTS)).toBeUndefined();
  });

  it('on the captured 252 rows of a bare unit, predicts a lower score than analyze gives it now', () => {
    const real = parseAnalyzeRows(readFileSync(new URL('../fixtures/analyze-security/252.json', import.meta.url), 'utf8'))!;
    const all = buildCandidates({ catalog: CATALOG, platform: DEBIAN12_PLATFORM, eff: {}, accepted: [], rolledBack: new Set(), rejected: new Set(), facts: FACTS, declarations: NO_DECLARATIONS }).candidates;
    const p = predictExposure(real, [...all, spec('ProtectSystem', 0.9, [0, 0.5]), spec('PrivateTmp', 0.9, [0])], FACTS)!;
    expect(p.best).toBeLessThan(p.expected);
    expect(p.expected).toBeLessThan(9.6);
  });
});

describe('effAfter', () => {
  it('narrows the bounding set by the ~ lines of an accepted CapabilityBoundingSet, in 64-bit safety', () => {
    const all = maskFromCaps(CAPABILITIES);
    const daemon = CAPS_LADDER.find((r) => r.value === 'daemon')!;
    const eff = effAfter({ CapabilityBoundingSet: all }, [{ option: 'CapabilityBoundingSet', value: 'daemon', lines: daemon.lines }]);
    const left = capsFromMask(eff.CapabilityBoundingSet as number);
    expect(left).toContain('CAP_SETUID');
    expect(left).not.toContain('CAP_SYS_ADMIN');
    expect(left).not.toContain('CAP_CHECKPOINT_RESTORE'); // bit 40: past 32-bit operators
    expect(left.length).toBeLessThan(20);
    // anything else, or a name the table does not know, leaves the settings as read
    const same = { CapabilityBoundingSet: all };
    expect(effAfter(same, [{ option: 'CapabilityBoundingSet', value: 'x', lines: ['CapabilityBoundingSet=~CAP_BOGUS'] }])).toBe(same);
    expect(effAfter(same, [{ option: 'ProtectSystem', value: 'strict', lines: ['ProtectSystem=strict'] }])).toBe(same);
  });
});

describe('drawFragility', () => {
  it('draws as the planner believes services vary: within its grid, more often sturdier than the catalog says', () => {
    const rng = prng(3);
    const draws = Array.from({ length: 2000 }, () => drawFragility(rng));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(2 ** -6);
    expect(Math.max(...draws)).toBeLessThanOrEqual(2 ** 4);
    const sturdier = draws.filter((t) => t < 1).length / draws.length;
    expect(sturdier).toBeGreaterThan(0.55);
    expect(sturdier).toBeLessThan(0.7);
    const again = prng(3);
    expect(drawFragility(again)).toBe(draws[0]);
  });
});
