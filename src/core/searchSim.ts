// Simulation of the search strategies against a synthetic service: n candidate options with value
// ladders, k of which break at their strongest rung (weaker rungs may break too), optionally a
// pair that breaks only together. Pure: the benchmark (bench/search-sim.mjs) and the unit tests
// drive the planners through it.
import { OneAtATime, type Candidate, type Planner } from './plan.js';
import { Adaptive, type AdaptiveOptions } from './search.js';
import type { OptionSpec, Rung, Setting } from './types.js';

/** Small seeded PRNG (mulberry32): same seed, same instances. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The priors of the options in catalog.ts when this was written (explain-only ones left out):
 * mostly confident, a few risky. Instances draw their priors from this list. */
export const CATALOG_LIKE_PRIORS: readonly number[] = [
  0.1, 0.1, 0.3, 0.3, 0.3, 0.5, 0.6, 0.6, 0.7, 0.75, 0.8, 0.85, 0.85, 0.85, 0.9, 0.9, 0.9, 0.9,
  0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.97, 0.97,
];

export interface SimInstance {
  cands: Candidate[];
  /** option=value keys that break the service on their own. */
  breaking: Set<string>;
  /** option=value keys that break the service only when both are applied. */
  pairs: Array<[string, string]>;
}

export interface InstanceSpec {
  n: number;
  /** Options whose strongest rung breaks. */
  k: number;
  /** Ladder lengths are uniform in 1..maxRungs (default 3). */
  maxRungs?: number;
  /** Chance that the next rung breaks too when a rung breaks (default 0.4). */
  lowerBreaks?: number;
  /** Add a pair of otherwise working strongest rungs that break only together. */
  pair?: boolean;
  /** Priors to draw from (default CATALOG_LIKE_PRIORS). */
  priors?: readonly number[];
  /** Choose the breaking options with weight 1 − prior (default true: the priors are informative). */
  informative?: boolean;
  /** Rescale the priors so that the expected number of breaking options is k: the planner's
   * beliefs are then right on average instead of the catalog's (default false). */
  calibrated?: boolean;
}

export const key = (s: { option: string; value: string }) => `${s.option}=${s.value}`;

function fakeSpec(name: string, weight: number, prior: number, ladder: Rung[]): OptionSpec {
  return {
    name, family: 'misc', ladder, weight, cost: 'free', safety: 'verifiable', confinesSessions: false, prior,
    minSystemd: 0, properties: [], exitStatuses: [], logHints: [], summary: 'simulated option',
  };
}

export function makeInstance(rng: () => number, spec: InstanceSpec): SimInstance {
  const { n, maxRungs = 3, lowerBreaks = 0.4, priors = CATALOG_LIKE_PRIORS, informative = true } = spec;
  const k = Math.min(spec.k, n);
  const cands: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    const name = `Opt${String(i).padStart(2, '0')}`;
    const len = 1 + Math.floor(rng() * maxRungs);
    const rungs: Rung[] = Array.from({ length: len }, (_, j) => ({
      value: `r${j}`,
      lines: [`${name}=r${j}`],
      residual: j === 0 ? 0 : Math.min(0.95, j * 0.3 + rng() * 0.2),
      inForce: () => false,
    }));
    const prior = priors[Math.floor(rng() * priors.length)]!;
    const weight = Math.round(50 + rng() * 1950);
    cands.push({ spec: fakeSpec(name, weight, prior, rungs), rungs });
  }
  if (spec.calibrated) {
    const total = cands.reduce((s, c) => s + (1 - c.spec.prior), 0);
    for (const c of cands) c.spec.prior = 1 - Math.min(0.95, ((1 - c.spec.prior) * k) / total);
  }
  // k breaking options, drawn without replacement, weighted by 1 − prior when informative
  const left = cands.map((_, i) => i);
  const broken: number[] = [];
  while (broken.length < k) {
    const ws = left.map((i) => (informative ? 1 - cands[i]!.spec.prior + 1e-3 : 1));
    let x = rng() * ws.reduce((a, b) => a + b, 0);
    let pick = 0;
    while (pick < left.length - 1 && (x -= ws[pick]!) > 0) pick++;
    broken.push(left.splice(pick, 1)[0]!);
  }
  const breaking = new Set<string>();
  for (const i of broken) {
    const c = cands[i]!;
    for (let j = 0; j < c.rungs.length; j++) {
      if (j > 0 && rng() >= lowerBreaks) break;
      breaking.add(`${c.spec.name}=${c.rungs[j]!.value}`);
    }
  }
  const pairs: Array<[string, string]> = [];
  if (spec.pair && left.length >= 2) {
    const a = left.splice(Math.floor(rng() * left.length), 1)[0]!;
    const b = left.splice(Math.floor(rng() * left.length), 1)[0]!;
    pairs.push([`${cands[a]!.spec.name}=r0`, `${cands[b]!.spec.name}=r0`]);
  }
  return { cands, breaking, pairs };
}

/** The synthetic service's verdict on a complete applied set. */
export function breaks(inst: SimInstance, applied: readonly Setting[]): boolean {
  const keys = new Set(applied.map(key));
  return [...keys].some((x) => inst.breaking.has(x)) || inst.pairs.some(([a, b]) => keys.has(a) && keys.has(b));
}

/** Without pairs, the right answer: each option at its strongest rung that does not break alone. */
export function strongestWorking(inst: SimInstance): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of inst.cands) {
    const r = c.rungs.find((x) => !inst.breaking.has(`${c.spec.name}=${x.value}`));
    if (r) out.set(c.spec.name, r.value);
  }
  return out;
}

export interface Trial {
  settings: Setting[];
  /** accepted() before the trial: the set the trial was applied on top of. */
  base: Setting[];
  ok: boolean;
}

export interface Run {
  trials: Trial[];
  accepted: Setting[];
}

/** Drives a planner to the end against the synthetic service. */
export function drive(planner: Planner, inst: SimInstance, maxTrials = 10_000): Run {
  const trials: Trial[] = [];
  for (let s = planner.next(); s; s = planner.next()) {
    if (trials.length >= maxTrials) throw new Error(`no end after ${maxTrials} trials`);
    const base = planner.accepted();
    const ok = !breaks(inst, [...base, ...s]);
    trials.push({ settings: s, base, ok });
    planner.report(ok);
  }
  return { trials, accepted: planner.accepted() };
}

export interface SimRow {
  n: number;
  k: number;
  instances: number;
  /** Mean trials. */
  oneAtATime: number;
  adaptive: number;
  /** Mean restarts under the current engine: one per trial, plus one to revert each failed trial. */
  oneAtATimeRestarts: number;
  adaptiveRestarts: number;
  /** Instances where the two ended with different accepted sets (0 without pairs). */
  mismatches: number;
}

/** Restarts a run costs when every failed trial is reverted with a restart of its own. */
export const restarts = (r: Run) => r.trials.length + r.trials.filter((t) => !t.ok).length;

export interface SimOptions {
  ns?: readonly number[];
  ks?: readonly number[];
  instances?: number;
  seed?: number;
  instance?: Omit<InstanceSpec, 'n' | 'k'>;
  /** Options for the adaptive planner. */
  adaptive?: AdaptiveOptions;
}

export function simulate(o: SimOptions = {}): SimRow[] {
  const { ns = [10, 20, 30, 40], ks = [0, 1, 2, 4, 8], instances = 100, seed = 1, instance = {}, adaptive = {} } = o;
  const rows: SimRow[] = [];
  for (const n of ns) {
    for (const k of ks) {
      const rng = prng(seed * 1_000_003 + n * 101 + k);
      let one = 0, ada = 0, oneR = 0, adaR = 0, mismatches = 0;
      for (let i = 0; i < instances; i++) {
        const inst = makeInstance(rng, { ...instance, n, k });
        const a = drive(new OneAtATime(inst.cands), inst);
        const b = drive(new Adaptive(inst.cands, adaptive), inst);
        one += a.trials.length;
        ada += b.trials.length;
        oneR += restarts(a);
        adaR += restarts(b);
        const sa = a.accepted.map(key).sort().join(' ');
        const sb = b.accepted.map(key).sort().join(' ');
        if (sa !== sb) mismatches++;
      }
      rows.push({
        n, k, instances, oneAtATime: one / instances, adaptive: ada / instances,
        oneAtATimeRestarts: oneR / instances, adaptiveRestarts: adaR / instances, mismatches,
      });
    }
  }
  return rows;
}

export function formatTable(rows: readonly SimRow[]): string {
  const pct = (a: number, b: number) => `${b ? ((100 * a) / b).toFixed(0) : '-'}%`;
  const head = ['n', 'k', 'trials 1-at-a-time', 'adaptive', 'ratio', 'k·log2(n/k)', 'restarts 1-at-a-time', 'adaptive', 'ratio'];
  const body = rows.map((r) => [
    String(r.n), String(r.k),
    r.oneAtATime.toFixed(1), r.adaptive.toFixed(1), pct(r.adaptive, r.oneAtATime),
    r.k ? (r.k * Math.log2(r.n / r.k)).toFixed(1) : '0',
    r.oneAtATimeRestarts.toFixed(1), r.adaptiveRestarts.toFixed(1), pct(r.adaptiveRestarts, r.oneAtATimeRestarts),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
