// What a tune would do, predicted without doing it (`autoharden plan`): the ladders it would try,
// the trials the search would group first, the restarts to expect and the exposure after. The
// planner is the tune's own (tunePlan.ts); verdicts are drawn from its priors by a seeded
// simulation, so the same unit gives the same figures. Pure.
import { exposureFromRows, optionOfField, type AnalyzeRow, type AnalyzeRows } from './analyzeRows.js';
import { ALL_CAPS_MASK, knownCaps, maskFromCaps } from './capabilities.js';
import { minimisationPlans } from './minimize.js';
import { orderByGain, type Candidate } from './plan.js';
import type { SafetyFacts } from './policy.js';
import { nextRungPrior } from './search.js';
import { drive, prng } from './searchSim.js';
import { plannerFor, priorOf, type Strategy } from './tunePlan.js';
import type { EffectiveSettings, OptionSpec, Setting } from './types.js';

/** The planner clamps priors to this range (search.ts); the simulation draws with the same. */
const clamp = (p: number) => Math.min(0.98, Math.max(0.02, Number.isFinite(p) ? p : 0.5));

/** Chance that one item a minimisation tries to remove (a capability, a system call group) is
 * needed after all: the catalog has no prior per item, so these are assumptions, said as such —
 * an even chance for an ordinary item, a small one for those observation calls likely free (the
 * minimisation tries them together first). */
export const MINIMISE_NEEDED = 0.5;
export const MINIMISE_FREE_NEEDED = 0.05;

export interface LadderView {
  option: string;
  /** Values strongest first. */
  rungs: string[];
  /** Chance the strongest rung works, as the planner believes it (observation included). */
  prior: number;
  /** Weight in the running systemd-analyze's score (the catalog's when unreadable). */
  weight: number;
  cost: OptionSpec['cost'];
  safety: OptionSpec['safety'];
}

/** The ladders in the order the planner weighs them (expected gain). */
export function ladders(cands: readonly Candidate[], facts: SafetyFacts): LadderView[] {
  const prior = priorOf(facts);
  return orderByGain(cands).map((c) => ({
    option: c.spec.name, rungs: c.rungs.map((r) => r.value), prior: clamp(prior(c)), weight: c.spec.weight, cost: c.spec.cost, safety: c.spec.safety,
  }));
}

export interface BatchView {
  trial: number;
  settings: string[];
  /** Chance that every setting of the batch works, from the priors. */
  passChance: number;
}

const text = (s: Setting) => `${s.option}=${s.value}`;

/** The trials the planner issues while every trial passes: the first is its prediction (the same
 * whatever happens), the later ones hold what the prediction left out. `total`: trials on that path. */
export function firstBatches(strategy: Strategy, cands: readonly Candidate[], facts: SafetyFacts, max = 6): { batches: BatchView[]; total: number } {
  const planner = plannerFor(strategy, cands, facts);
  const prior = priorOf(facts);
  const rung0 = new Map(cands.map((c) => [c.spec.name, clamp(prior(c))]));
  const batches: BatchView[] = [];
  let total = 0;
  for (let s = planner.next(); s; s = planner.next()) {
    total++;
    if (batches.length < max) batches.push({ trial: total, settings: s.map(text), passChance: s.reduce((p, x) => p * (rung0.get(x.option) ?? 1), 1) });
    planner.report(true);
  }
  return { batches, total };
}

/** Restarts a sequence of trial verdicts costs the engine (engine/tune/trial.ts): one per trial;
 * a failure is reverted at once (one-at-a-time) or by the next trial's restart, with a revert of
 * its own after two failures in a row (adaptive); a revert still due at the end is one more; the
 * adaptive confirmation watches the invocation that runs the accepted set already (the last trial
 * that passed, or the revert), and restarts only with a setting systemd stops enforcing at a
 * reload (`fragile`; engine/tune/confirm.ts). */
export function restartsOf(strategy: Strategy, verdicts: readonly boolean[], fragile = false): number {
  let restarts = 0;
  let inRow = 0;
  let pending = false;
  for (const ok of verdicts) {
    restarts++;
    if (ok) {
      inRow = 0;
      pending = false;
      continue;
    }
    inRow++;
    pending = true;
    if (strategy !== 'adaptive' || inRow >= 2) {
      restarts++;
      inRow = 0;
      pending = false;
    }
  }
  if (pending) restarts++;
  if (strategy === 'adaptive' && verdicts.length > 0 && fragile) restarts++;
  return restarts;
}

export interface Span {
  /** The median of the simulated services. */
  expected: number;
  /** 10th and 90th percentiles. */
  low: number;
  high: number;
}

export interface RestartEstimate {
  strategy: Strategy;
  /** Simulated services and the seed they were drawn with. */
  runs: number;
  seed: number;
  trials: Span;
  restarts: Span;
  /** Every trial passes / every rung of every option fails (not the most: with nothing accepted
   * there is nothing to minimise). */
  allPass: { trials: number; restarts: number };
  allFail: { trials: number; restarts: number };
  /** Items the minimisation would try to remove when the strongest rungs are accepted. */
  minimiseItems: number;
}

export interface EstimateInput {
  strategy: Strategy;
  cands: readonly Candidate[];
  facts: SafetyFacts;
  /** For the minimisation phase: the effective settings now and the catalog tune uses. */
  eff: EffectiveSettings;
  catalog: readonly OptionSpec[];
  runs?: number;
  seed?: number;
}

type Verdict = (settings: readonly Setting[]) => boolean;

/** One simulated tune: the search against `breaks`, then the minimisation against `needed`. */
function simulateOnce(i: EstimateInput, breaking: ReadonlySet<string>, needed: (item: string) => boolean): { trials: number; restarts: number } {
  const run = drive(plannerFor(i.strategy, i.cands, i.facts), { cands: [...i.cands], breaking: new Set(breaking), pairs: [] });
  const verdicts = run.trials.map((t) => t.ok);
  verdicts.push(...minimise(i, run.accepted, (s) => !s.some(needed)));
  const byName = new Map(i.cands.map((c) => [c.spec.name, c.spec]));
  // a setting systemd stops enforcing at a reload costs one more restart at the end (session.ts)
  const fragile = run.accepted.some((s) => byName.get(s.option)?.lostOnReload) ? 1 : 0;
  return { trials: verdicts.length, restarts: restartsOf(i.strategy, verdicts, fragile > 0) + fragile };
}

/** The effective settings the minimisation plans from: the engine reads them back with the
 * accepted set in force. What it shrinks by reading them is the bounding set, which the ladder
 * only ever narrows with `~` lines: those are applied here; the rest is read as it is now. */
export function effAfter(eff: EffectiveSettings, accepted: readonly Setting[]): EffectiveSettings {
  const v = eff.CapabilityBoundingSet;
  // 41 capabilities: past JavaScript's 32-bit operators, so bigint
  let mask = BigInt(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? knownCaps(v) : ALL_CAPS_MASK);
  let changed = false;
  for (const s of accepted) {
    if (s.option !== 'CapabilityBoundingSet') continue;
    for (const line of s.lines) {
      const m = /^CapabilityBoundingSet=~(.*)$/.exec(line);
      if (!m) continue;
      try {
        mask &= ~BigInt(maskFromCaps(m[1]!.split(/\s+/).filter(Boolean)));
        changed = true;
      } catch {
        /* a name this table does not know: the set is left as read */
      }
    }
  }
  return changed ? { ...eff, CapabilityBoundingSet: Number(mask) } : eff;
}

/** The minimisation's verdicts for an accepted set (engine/tune/minimise.ts). */
function minimise(i: EstimateInput, accepted: readonly Setting[], passes: (group: readonly string[]) => boolean): boolean[] {
  const out: boolean[] = [];
  for (const plan of minimisationPlans(accepted, effAfter(i.eff, accepted), i.facts, i.strategy, i.catalog)) {
    for (let g = plan.m.next(); g; g = plan.m.next()) {
      const ok = passes(g);
      out.push(ok);
      plan.m.report(ok);
    }
  }
  return out;
}

function minimiseItems(i: EstimateInput, accepted: readonly Setting[]): number {
  return minimisationPlans(accepted, effAfter(i.eff, accepted), i.facts, i.strategy, i.catalog).reduce((n, p) => {
    let items = 0;
    for (let g = p.m.next(); g; g = p.m.next()) {
      items += g.length;
      p.m.report(true);
    }
    return n + items;
  }, 0);
}

/** A service's fragility θ as the adaptive planner believes services vary (search.ts: log-normal
 * around 1, σ 2.5 doublings downwards and 1.5 upwards, within 2^-6 … 2^4): θ scales the catalog's
 * failure chances of the strongest rungs. */
export function drawFragility(rng: () => number): number {
  const down = rng() < 2.5 / 4;
  // Box–Muller: one normal deviate
  const z = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const l = Math.abs(z) * (down ? -2.5 : 1.5);
  return 2 ** Math.min(4, Math.max(-6, l));
}

/** Which rungs break on one simulated service of fragility θ: the strongest rung fails with θ
 * times the catalog's chance; after a failure the next fails with 1 − nextRungPrior (the
 * planner's own model, search.ts failChance). */
function drawBreaking(rng: () => number, i: EstimateInput, theta: number): Set<string> {
  const prior = priorOf(i.facts);
  const out = new Set<string>();
  for (const c of i.cands) {
    let p = clamp(prior(c));
    let fail = Math.min(0.995, theta * (1 - p));
    for (const r of c.rungs) {
      if (rng() >= fail) break;
      out.add(`${c.spec.name}=${r.value}`);
      p = clamp(nextRungPrior(p));
      fail = 1 - p;
    }
  }
  return out;
}

const quantile = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))] ?? 0;
const span = (xs: number[]): Span => {
  const s = [...xs].sort((a, b) => a - b);
  return { expected: quantile(s, 0.5), low: quantile(s, 0.1), high: quantile(s, 0.9) };
};

/** Trials and restarts over `runs` services drawn from the planner's beliefs (seeded): the
 * catalog's priors, scaled per service by a fragility drawn as the planner assumes; and the extremes. */
export function estimateRestarts(i: EstimateInput): RestartEstimate {
  const runs = i.runs ?? 100;
  const seed = i.seed ?? 1;
  const rng = prng(seed);
  const trials: number[] = [];
  const restarts: number[] = [];
  const free = new Set(i.catalog.flatMap((s) => s.minimise?.likelyFree?.(i.facts) ?? []));
  for (let n = 0; n < runs; n++) {
    const breaking = drawBreaking(rng, i, drawFragility(rng));
    const needs = new Map<string, boolean>();
    const r = simulateOnce(i, breaking, (item) => {
      if (!needs.has(item)) needs.set(item, rng() < (free.has(item) ? MINIMISE_FREE_NEEDED : MINIMISE_NEEDED));
      return needs.get(item)!;
    });
    trials.push(r.trials);
    restarts.push(r.restarts);
  }
  const all = new Set(i.cands.flatMap((c) => c.rungs.map((r) => `${c.spec.name}=${r.value}`)));
  const strongest = drive(plannerFor(i.strategy, i.cands, i.facts), { cands: [...i.cands], breaking: new Set(), pairs: [] }).accepted;
  return {
    strategy: i.strategy, runs, seed,
    trials: span(trials), restarts: span(restarts),
    allPass: simulateOnce(i, new Set(), () => false),
    allFail: simulateOnce(i, all, () => true),
    minimiseItems: minimiseItems(i, strongest),
  };
}

export interface ExposurePrediction {
  /** The score if the planner's beliefs hold: each rung counted with its chance of being the one kept. */
  expected: number;
  /** The score if every strongest rung is accepted. */
  best: number;
}

/** The exposure after, scored like systemd-analyze scores it (exposureFromRows) from the running
 * analyze's checks: a check of a candidate option keeps at most its rung's residual share of its
 * range. Approximate where an option owns several checks (residuals are the option's, not the
 * check's). Undefined without rows that score. */
export function predictExposure(rows: AnalyzeRows | undefined, cands: readonly Candidate[], facts: SafetyFacts): ExposurePrediction | undefined {
  if (!rows) return undefined;
  const prior = priorOf(facts);
  const byName = new Map(cands.map((c) => [c.spec.name, c]));
  const names = new Set(byName.keys());
  const expected: AnalyzeRow[] = [];
  const best: AnalyzeRow[] = [];
  for (const row of rows) {
    const c = row.badness === undefined ? undefined : byName.get(optionOfField(row.field, names) ?? '');
    if (!c || row.badness === undefined || c.rungs.length === 0) {
      expected.push(row);
      best.push(row);
      continue;
    }
    const now = row.badness;
    const left = (residual: number) => Math.min(now, residual * row.range);
    let p = clamp(prior(c));
    let none = 1;
    let e = 0;
    for (const r of c.rungs) {
      e += none * p * left(r.residual);
      none *= 1 - p;
      p = clamp(nextRungPrior(p));
    }
    expected.push({ ...row, badness: e + none * now });
    best.push({ ...row, badness: left(c.rungs[0]!.residual) });
  }
  const ex = exposureFromRows(expected);
  const b = exposureFromRows(best);
  return ex === undefined || b === undefined ? undefined : { expected: ex, best: b };
}
