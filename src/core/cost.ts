// Cost-aware tuning (issue 6): the workload spec, the performance budget, and the noise-aware rule
// that decides from alternating baseline/candidate measurements whether a configuration keeps
// the service within the budget. Pure: no I/O (src/adapters/workload.ts runs the workload).
//
// Method
// ------
// A is the baseline configuration (the unit without autoharden's drop-ins), B the configuration
// under judgement (the accepted set plus a costly candidate). Readings come in pairs, one of A and
// one of B, and the order inside a pair alternates: A B | B A | A B | B A … (it starts with the
// configuration already running, so the sequence costs one restart per pair). Each pair gives the
// cost ratio r = cost(B)/cost(A) (cost = the reading when lower is better, its inverse when higher
// is better), so r > 1 means B is slower.
//   - Pairing adjacent readings cancels slow changes of the machine; mirroring every other pair
//     turns what pairing leaves of a linear drift (the second reading of a pair is a step later)
//     and of warm-up (a restarted service's first run is slower) into a bias of alternating sign,
//     which the median of an even number of pairs cancels.
//   - The decision uses the median pair ratio and a distribution-free confidence interval of the
//     median from order statistics (the sign test): with n pairs sorted, lower = r(k) and
//     upper = r(n+1-k) for the largest k with P(Binomial(n, 1/2) <= k-1) <= alpha. No assumption
//     on the shape of the noise; one outlier moves neither bound much.
//   - 'over' when the lower bound exceeds 1 + budget; 'within' when the upper bound is below it;
//     otherwise 'undecided': measure two more pairs. At the bound on pairs (or restarts) an
//     undecided result is decided on the median alone (atBound: true).
import { RE2JS } from 're2js';
import { AutohardenError } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Workload spec

/**
 * What to run and what to read from it.
 *   exec:COMMAND                 the wall time of COMMAND (lower is better)
 *   higher:/REGEX/FLAGS:COMMAND  a figure COMMAND prints; higher is better (requests per second)
 *   lower:/REGEX/FLAGS:COMMAND   a figure COMMAND prints; lower is better (latency)
 * COMMAND runs under /bin/sh -c and must exit 0. REGEX is an RE2 regular expression (JavaScript
 * syntax without backreferences or lookaround) between slashes (write `\/` for a slash outside
 * [...]); FLAGS are any of i, m, s, u. It runs on RE2JS, in time linear in the output: the output
 * may hold what the service sent (a body curl prints), so a backtracking engine could be made to
 * hang on it. Only the last MAX_FIGURE_INPUT characters of the output are read. The figure is the
 * first capture group of each match in the command's output (stdout, then stderr), or the whole
 * match without a group; commas in it are ignored. Several matches (redis-benchmark -t get,set
 * prints one line per test) are combined by their geometric mean, so each counts alike.
 */
export type WorkloadSpec =
  | { kind: 'time'; command: string; raw: string }
  | { kind: 'figure'; command: string; pattern: string; flags: string; higherIsBetter: boolean; raw: string };

export const WORKLOAD_SYNTAX = 'exec:COMMAND (its wall time), higher:/REGEX/:COMMAND or lower:/REGEX/:COMMAND (a figure it prints)';

/** How much of the workload's output the pattern reads: its end, where load tools print totals. */
export const MAX_FIGURE_INPUT = 1 << 20;
/** RE2 matches in (program size × input length) steps: a bound on the first bounds the time a
 * reading takes (about 8 s for 200 instructions against 1 MiB of hostile output, here). Figure
 * patterns need a few dozen. */
const MAX_PROGRAM_SIZE = 200;

/** JavaScript-style flags → RE2JS flags. `u` changes nothing: RE2 always matches code points. */
function compileFigurePattern(pattern: string, flags: string): RE2JS {
  let f = 0;
  if (flags.includes('i')) f |= RE2JS.CASE_INSENSITIVE;
  if (flags.includes('m')) f |= RE2JS.MULTILINE;
  if (flags.includes('s')) f |= RE2JS.DOTALL;
  return RE2JS.compile(pattern, f);
}

export function parseWorkloadSpec(raw: string): WorkloadSpec {
  const bad = (why: string) => new AutohardenError('Usage', `bad workload spec ${JSON.stringify(raw)}: ${why}`);
  if (raw.startsWith('exec:')) {
    const command = raw.slice(5).trim();
    if (!command) throw bad('exec: needs a command');
    return { kind: 'time', command, raw };
  }
  const m = /^(higher|lower):/.exec(raw);
  if (!m) throw bad(`expected ${WORKLOAD_SYNTAX}`);
  const rest = raw.slice(m[0].length);
  if (!rest.startsWith('/')) throw bad(`${m[1]}: needs /REGEX/ then :COMMAND`);
  // find the closing slash: skip escapes, and slashes inside a character class
  let i = 1;
  let inClass = false;
  for (; i < rest.length; i++) {
    const c = rest[i];
    if (c === '\\') i++;
    else if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) break;
  }
  if (i >= rest.length) throw bad('the pattern has no closing slash (write \\/ for a slash in it)');
  const pattern = rest.slice(1, i);
  const after = rest.slice(i + 1);
  const fm = /^([a-z]*):/.exec(after);
  if (!fm) throw bad('expected :COMMAND after /REGEX/');
  const flags = fm[1]!;
  if (/[^imsu]/.test(flags) || new Set(flags).size !== flags.length) throw bad(`bad flags "${flags}" (any of i, m, s, u)`);
  if (!pattern) throw bad('empty pattern');
  let re: RE2JS;
  try {
    re = compileFigurePattern(pattern, flags);
  } catch (e) {
    const why = ((e as Error).message || String(e)).replace(/^error parsing regexp: /, '').split('\n')[0];
    throw bad(`the pattern is not one RE2 accepts (no backreferences or lookaround): ${why}`);
  }
  if (re.programSize() > MAX_PROGRAM_SIZE) throw bad(`the pattern is too large for linear-time matching (${re.programSize()} RE2 instructions, at most ${MAX_PROGRAM_SIZE})`);
  if (re.test('')) throw bad('the pattern matches empty text, so it would match anything');
  const command = after.slice(fm[0].length).trim();
  if (!command) throw bad('no command after the pattern');
  return { kind: 'figure', command, pattern, flags, higherIsBetter: m[1] === 'higher', raw };
}

export function higherIsBetter(spec: WorkloadSpec): boolean {
  return spec.kind === 'figure' && spec.higherIsBetter;
}

/** The last `max` characters of `text`. A line the cut falls in is dropped, so that no number is
 * read from half its digits; when that line is all there is, only its leading digits are. */
export function tailOf(text: string, max: number): string {
  if (text.length <= max) return text;
  const t = text.slice(-max);
  const nl = t.indexOf('\n');
  return nl >= 0 && nl < t.length - 1 ? t.slice(nl + 1) : t.replace(/^[\d.,]+/, '');
}

/** The figure a 'figure' spec reads from the command's output (its last MAX_FIGURE_INPUT
 * characters, from a line start); throws Failed when there is none. */
export function figureFrom(spec: Extract<WorkloadSpec, { kind: 'figure' }>, fullOutput: string): number {
  const re = compileFigurePattern(spec.pattern, spec.flags);
  const output = tailOf(fullOutput, MAX_FIGURE_INPUT);
  const values: number[] = [];
  for (const m of re.matchAll(output)) {
    const text = (m.length > 1 ? m[1] : m[0]) ?? '';
    const v = Number(text.replaceAll(',', '').trim());
    if (!text.trim() || !Number.isFinite(v)) {
      throw new AutohardenError('Failed', `workload: /${spec.pattern}/ matched ${JSON.stringify(m[0].slice(0, 80))}, which holds no number`);
    }
    if (v <= 0) throw new AutohardenError('Failed', `workload: the figure ${v} (from ${JSON.stringify(m[0].slice(0, 80))}) is not positive`);
    values.push(v);
  }
  if (!values.length) {
    const tail = output.trim().split('\n').slice(-3).join(' | ').slice(-300);
    throw new AutohardenError('Failed', `workload: /${spec.pattern}/ matched nothing in its output${tail ? ` (ends: ${tail})` : ''}`);
  }
  return geomean(values);
}

// ---------------------------------------------------------------------------------------------
// Budget

/** '5%', '5' (percent implied) or '0.5%' → 0.05, 0.05, 0.005. */
export function parseBudget(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*%?\s*$/.exec(raw);
  const pct = m ? Number(m[1]) : NaN;
  if (!Number.isFinite(pct) || pct > 1000) {
    throw new AutohardenError('Usage', `bad budget ${JSON.stringify(raw)}: expected a slowdown in percent, e.g. 5% or 0.5%`);
  }
  return pct / 100;
}

// ---------------------------------------------------------------------------------------------
// The decision rule

export type Config = 'A' | 'B';

/** One pair of readings: a of the baseline, b of the candidate, as the workload reported them. */
export interface Pair {
  a: number;
  b: number;
}

export interface DecideOptions {
  /** Allowed slowdown as a fraction: 0.05 = 5 %. */
  budget: number;
  /** The readings are a figure where higher is better (requests/s); false for times. */
  higherIsBetter: boolean;
  /** The bound on pairs: an undecided result with this many pairs is decided on the median. */
  maxPairs: number;
  /** Error of each one-sided bound (default 0.05). */
  alpha?: number;
  /** Decide now if the bounds don't (no more measurement is possible). */
  final?: boolean;
  /** How a result still undecided at the bound is decided: on the median (default), or always
   * for the setting ('within': noise too large to tell keeps the hardening) or against it ('over'). */
  onBound?: 'median' | 'within' | 'over';
}

export type CostVerdict = 'within' | 'over' | 'undecided';

export interface CostDecision {
  verdict: CostVerdict;
  /** Median pair ratio cost(B)/cost(A): 1.12 = B is 12 % slower. */
  ratio: number;
  /** Spread of the pair ratios: 1.4826 × their median absolute deviation (a robust standard deviation). */
  spread: number;
  /** Confidence bounds on the median ratio; null while there are too few pairs for any. */
  lower: number | null;
  upper: number | null;
  /** Coverage of each one-sided bound (e.g. 0.984 for 6 pairs), 0 without bounds. */
  confidence: number;
  /** Pairs used: the largest even number measured (a trailing odd pair waits for its mirror). */
  pairs: number;
  /** Decided by the onBound rule (the median, by default) because the bound was reached undecided:
   * the noise was too large for this budget. */
  atBound: boolean;
  /** The budget it was judged against (fraction). */
  budget: number;
}

export const DEFAULT_ALPHA = 0.05;
export const DEFAULT_MAX_PAIRS = 12;

/** The cost ratio of one pair, direction-adjusted so that > 1 means B is slower. */
export function pairRatio(p: Pair, higherIsBetter: boolean): number {
  if (!(p.a > 0 && p.b > 0 && Number.isFinite(p.a) && Number.isFinite(p.b))) {
    throw new AutohardenError('Failed', `cost: readings must be positive numbers (got ${p.a}, ${p.b})`);
  }
  return higherIsBetter ? p.a / p.b : p.b / p.a;
}

/** Order of pair i when the first pair starts with `first`: first pair first-other, then mirrored. */
export function pairOrder(i: number, first: Config = 'A'): [Config, Config] {
  const other: Config = first === 'A' ? 'B' : 'A';
  return i % 2 === 0 ? [first, other] : [other, first];
}

/** P(Binomial(n, 1/2) <= k). */
function binomCdfHalf(n: number, k: number): number {
  if (k < 0) return 0;
  let term = 1; // C(n, 0)
  let sum = 0;
  for (let j = 0; j <= Math.min(k, n); j++) {
    sum += term;
    term = (term * (n - j)) / (j + 1);
  }
  return sum / 2 ** n;
}

/** Largest k >= 1 with P(Bin(n, 1/2) <= k-1) <= alpha (0 when none): r(k) is a lower bound of the median. */
export function orderStatisticRank(n: number, alpha: number): number {
  let k = 0;
  while (k + 1 <= Math.floor(n / 2) && binomCdfHalf(n, k) <= alpha) k++;
  return k;
}

/** The fewest pairs (even) for which the bounds exist at this alpha. */
export function minPairs(alpha = DEFAULT_ALPHA): number {
  checkAlpha(alpha);
  let n = 2;
  while (orderStatisticRank(n, alpha) === 0) n += 2;
  return n;
}

function checkAlpha(alpha: number): void {
  if (!(alpha >= 0.001 && alpha < 0.5)) throw new AutohardenError('Usage', `cost: alpha must be in [0.001, 0.5), got ${alpha}`);
}

function median(sorted: readonly number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

function geomean(xs: readonly number[]): number {
  if (xs.length === 1) return xs[0]!;
  return Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
}

/** Judge B against A from the pairs measured so far (in measurement order). */
export function decideCost(pairs: readonly Pair[], o: DecideOptions): CostDecision {
  if (!(o.budget >= 0)) throw new AutohardenError('Usage', `cost: bad budget ${o.budget}`);
  if (!pairs.length) throw new AutohardenError('Failed', 'cost: no measurements to decide on');
  const alpha = o.alpha ?? DEFAULT_ALPHA;
  checkAlpha(alpha);
  // an even number: each pair with its mirror (a single pair is all there is at times)
  const used = pairs.length >= 2 ? pairs.slice(0, pairs.length - (pairs.length % 2)) : pairs.slice();
  const r = used.map((p) => pairRatio(p, o.higherIsBetter)).sort((x, y) => x - y);
  const n = r.length;
  const ratio = median(r);
  const spread = 1.4826 * median(r.map((x) => Math.abs(x - ratio)).sort((x, y) => x - y));
  const k = orderStatisticRank(n, alpha);
  const lower = k ? r[k - 1]! : null;
  const upper = k ? r[n - k]! : null;
  const confidence = k ? 1 - binomCdfHalf(n, k - 1) : 0;
  const limit = 1 + o.budget;
  let verdict: CostVerdict = 'undecided';
  if (lower !== null && lower > limit) verdict = 'over';
  else if (upper !== null && upper < limit) verdict = 'within';
  let atBound = false;
  if (verdict === 'undecided' && (o.final || pairs.length >= o.maxPairs)) {
    const rule = o.onBound ?? 'median';
    verdict = rule === 'median' ? (ratio > limit ? 'over' : 'within') : rule;
    atBound = true;
  }
  return { verdict, ratio, spread, lower, upper, confidence, pairs: n, atBound, budget: o.budget };
}

// ---------------------------------------------------------------------------------------------
// Planning the measurements

export interface MeasureStep {
  /** Index of the pair this reading belongs to. */
  pair: number;
  config: Config;
  /** The unit must be restarted into `config` before this reading. */
  restart: boolean;
}

/**
 * The readings for pairs [from, from+count), given the configuration the unit runs now (null:
 * unknown or neither, so the first reading needs a restart) and the one the first pair started with.
 */
export function measureSteps(from: number, count: number, current: Config | null, first: Config = 'A'): MeasureStep[] {
  const out: MeasureStep[] = [];
  let now = current;
  for (let i = from; i < from + count; i++) {
    for (const config of pairOrder(i, first)) {
      out.push({ pair: i, config, restart: config !== now });
      now = config;
    }
  }
  return out;
}

export const restartsOf = (steps: readonly MeasureStep[]) => steps.filter((s) => s.restart).length;

export interface PlanOptions {
  maxPairs: number;
  alpha?: number;
  /** Restarts the measurement may still spend (the user's bound); unlimited when absent. */
  restartsLeft?: number;
  current: Config | null;
  first: Config;
}

/**
 * How many pairs to measure next: none once decided or at the bound; else up to the fewest pairs
 * with bounds (6 at alpha 0.05), then two at a time (a pair and its mirror), never past maxPairs
 * nor past the restarts left. Returns 0 when not even one mirrored couple fits: decide then with
 * `final: true`.
 */
export function nextPairs(done: number, decision: CostDecision | undefined, o: PlanOptions): number {
  if (decision && decision.verdict !== 'undecided') return 0;
  if (done >= o.maxPairs) return 0;
  const target = Math.min(o.maxPairs, Math.max(minPairs(o.alpha), done + 2 - (done % 2)));
  let count = target - done;
  if (o.restartsLeft !== undefined) {
    while (count > 0 && restartsOf(measureSteps(done, count, o.current, o.first)) > o.restartsLeft) count--;
    // an odd last pair can only be used with its mirror: don't spend restarts on it alone
    if (count > 0 && (done + count) % 2 === 1 && done + count < target) count--;
  }
  return Math.max(0, count);
}

/**
 * The whole measurement as a small state machine for the engine:
 *
 *   const m = new CostMeasurement({ budget, higherIsBetter: higherIsBetter(spec), maxPairs, restartsLeft }, current);
 *   for (let steps = m.next(); steps.length; steps = m.next()) {
 *     for (const s of steps) {
 *       if (s.restart) await restartInto(s.config);   // counts as a restart
 *       m.record(s, await runWorkload(spec, timeoutMs));
 *     }
 *   }
 *   const d = m.decision();   // never 'undecided'; undefined when no pair could be measured
 */
export class CostMeasurement {
  readonly pairs: Pair[] = [];
  private partial = new Map<number, Partial<Pair>>();
  private current: Config | null;
  private readonly first: Config;
  private restartsSpent = 0;
  private last: CostDecision | undefined;

  constructor(
    private readonly o: Omit<DecideOptions, 'final'> & { restartsLeft?: number },
    /** The configuration the unit runs when measuring starts (null: neither); the first pair starts with it. */
    current: Config | null,
  ) {
    this.current = current;
    this.first = current ?? 'A';
  }

  /** The readings to take next; empty when the decision is made. */
  next(): MeasureStep[] {
    const done = this.pairs.length;
    const restartsLeft = this.o.restartsLeft === undefined ? undefined : this.o.restartsLeft - this.restartsSpent;
    const count = nextPairs(done, this.last, { maxPairs: this.o.maxPairs, alpha: this.o.alpha, restartsLeft, current: this.current, first: this.first });
    return count > 0 ? measureSteps(done, count, this.current, this.first) : [];
  }

  /** Record one reading taken as `step` says (after restarting when step.restart). */
  record(step: MeasureStep, value: number): void {
    if (step.restart) this.restartsSpent++;
    this.current = step.config;
    const p = this.partial.get(step.pair) ?? {};
    if (step.config === 'A') p.a = value;
    else p.b = value;
    if (p.a !== undefined && p.b !== undefined) {
      this.partial.delete(step.pair);
      if (step.pair !== this.pairs.length) throw new Error(`cost: pair ${step.pair} completed out of order`);
      this.pairs.push({ a: p.a, b: p.b });
      this.last = decideCost(this.pairs, { ...this.o, final: false });
    } else {
      this.partial.set(step.pair, p);
    }
  }

  /** Restarts the steps taken so far asked for. */
  get restarts(): number {
    return this.restartsSpent;
  }

  /** The configuration the unit was last restarted into (or ran at the start). */
  get running(): Config | null {
    return this.current;
  }

  /** The decision on what was measured, decided on the median when the measurement stopped
   * undecided; undefined when not one pair was measured (no restarts left). */
  decision(): CostDecision | undefined {
    return this.pairs.length ? decideCost(this.pairs, { ...this.o, final: true }) : undefined;
  }
}

/** One line for the journal and the user: "+12.3% (bounds +10.1%..+15.0%, spread 1.8%, 8 pairs)". */
export function describeCost(d: CostDecision): string {
  const pct = (x: number) => `${x >= 1 ? '+' : '−'}${(Math.abs(x - 1) * 100).toFixed(1)}%`;
  const bounds = d.lower !== null && d.upper !== null ? `bounds ${pct(d.lower)}..${pct(d.upper)}, ` : '';
  const how = d.atBound ? ', decided on the median at the bound' : '';
  return `${pct(d.ratio)} (${bounds}spread ${(d.spread * 100).toFixed(1)}%, ${d.pairs} pairs${how}; budget ${(d.budget * 100).toFixed(1)}%)`;
}
