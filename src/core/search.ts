// Adaptive search: predict the whole working set, verify it in one trial, and when a batch fails
// find the culprits by splitting it (adaptive group testing), so that k breaking options among n
// cost about k·log2(n/k) trials instead of n. Pure: no I/O.
//
// Model. Each live item is one rung of one option. A trial applies the accepted set plus a batch.
// The planner assumes breakage is monotone — adding restrictions never repairs a broken service —
// which holds for settings that break alone and for pairs that break only together alike. Then:
//  - a passing batch is accepted as a whole. That is the only way anything is ever accepted, so
//    every accepted setting was part of a trial that passed on top of the then-accepted set;
//  - a failing batch G is a "suspect": accepted ∪ G breaks, and by monotonicity keeps breaking
//    whatever is accepted later. A part H of it is tried: if H passes, H is accepted and G∖H is
//    still a suspect (known without a trial); if H fails, H is the suspect and G∖H goes back to
//    the pool untested. A suspect of one item is rejected without a trial of its own;
//  - a rejected rung makes the option's next rung an item again (value ladders).
// If breakage is not monotone (a flaky probe), the inference can only wrongly reject, never accept.
//
// Sizes come from the priors (chance that an item works), as in Hwang's generalised binary
// splitting: a new batch takes items in order of expected gain while the chance that the whole
// batch passes stays ≥ batchTarget (risky items that would push it below wait for a later, smaller
// batch, or go alone); a suspect is split so that the chance the tried part passes, given that the
// suspect fails, is nearest splitTarget — with equal priors that is about half, and the safest
// items are tried first so that a pass accepts them and leaves the risky rest as the suspect. The
// very first batch is the prediction: every candidate whose prior is ≥ predictThreshold.
//
// Calibration. Services differ in how much hardening they tolerate, so the catalog's failure
// chances (1 − prior) of the strongest rungs are scaled per service by a fragility factor θ: a
// service with θ = 0.3 breaks under each option with 0.3 times the catalog's chance. A posterior over a grid of θ values is
// recomputed from the verdicts so far — accepted items, rejected items and the open suspect make an
// exact likelihood for independent items — and every chance above is averaged over it. A service
// that took the predicted batch gets big batches for its risky options; one that broke often gets
// small ones, down to one option per trial (which is then one-at-a-time again).
import { nextRungPrior, orderByGain, toSetting, type Candidate, type Planner, type Revision } from './plan.js';
import type { Setting } from './types.js';

export interface AdaptiveOptions {
  /** The first trial holds every candidate whose prior is at least this (default 0.5; above 1 disables it). */
  predictThreshold?: number;
  /** A new batch grows while its chance to pass stays at least this (default 0.5). */
  batchTarget?: number;
  /** Split a failed batch where the tried part passes with about this chance (default 0.5). */
  splitTarget?: number;
  /** Chance that an option's strongest rung works, when observation knows better than the
   * catalog's spec.prior (default: spec.prior). */
  priorOf?: (c: Candidate) => number;
  /** Prior of the next rung after a rung is rejected, from the rejected rung's prior
   * (default nextRungPrior). */
  nextRungPrior?: (failedPrior: number) => number;
  /** Learn the service's fragility from the verdicts (default true); false trusts the priors as they are. */
  calibrate?: boolean;
}

export type RejectReason =
  | 'failed' // this rung failed in a trial on its own
  | 'inferred' // a failing batch minus a part that then passed left only this rung: no trial of its own
  | 'ineffective' // systemd did not apply it
  | 'observed'; // a record the service cannot write (the kernel's) showed it uses what the rung forbids

export interface Rejection {
  setting: Setting;
  reason: RejectReason;
}

export { nextRungPrior };

interface Item {
  cand: number;
  rung: number;
  /** Chance that this rung works, before calibration. */
  prior: number;
  gain: number;
  seq: number;
  setting: Setting;
}

interface Suspect {
  items: Item[];
  /** This exact set failed in a trial (rather than being what a passing part left over). */
  observed: boolean;
}

interface Pending {
  items: Item[];
  /** When a suspect is being split: its part not under trial. */
  rest?: Item[];
}

// Fragility grid θ = 2^-6 … 2^4 in half doublings. Prior: log-normal around 1 (the catalog is
// right), wider downwards (σ 2.5 doublings: a simple daemon may take nearly everything) than
// upwards (σ 1.5: the risky options already carry low priors).
const THETAS = Array.from({ length: 21 }, (_, i) => 2 ** (-6 + i / 2));
const THETA_PRIOR = THETAS.map((t) => {
  const l = Math.log2(t);
  const sd = l < 0 ? 2.5 : 1.5;
  return Math.exp(-(l * l) / (2 * sd * sd));
});
const ONLY_ONE = THETAS.map((t) => (t === 1 ? 1 : 0));
const MIN_PRIOR = 0.02;
const MAX_PRIOR = 0.98;

const clampPrior = (p: number) => Math.min(MAX_PRIOR, Math.max(MIN_PRIOR, Number.isFinite(p) ? p : 0.5));

/** Chance that an item fails on a service of fragility θ. A weaker rung's prior already comes
 * from its stronger sibling's failure on this very service, so θ does not scale it again (and it
 * teaches nothing about θ). */
const failChance = (theta: number, it: Item) => (it.rung > 0 ? 1 - it.prior : Math.min(0.995, theta * (1 - it.prior)));

function passAll(theta: number, items: readonly Item[]): number {
  let p = 1;
  for (const it of items) p *= 1 - failChance(theta, it);
  return p;
}

const byGain = (a: Item, b: Item) => b.gain - a.gain || a.seq - b.seq;

export class Adaptive implements Planner {
  private readonly cands: Candidate[];
  private readonly predictThreshold: number;
  private readonly batchTarget: number;
  private readonly splitTarget: number;
  private readonly rungPrior: (p: number) => number;
  private readonly calibrate: boolean;

  private pool: Item[] = [];
  private readonly suspects: Suspect[] = [];
  private pending: Pending | undefined;
  /** Batches to try again whole: what was left of a failed batch once observation named its culprit. */
  private readonly reissue: Item[][] = [];
  private predicted = false;
  private seq = 0;
  private readonly kept: Item[] = [];
  private readonly failed: Item[] = []; // rejected as breaking (not as ineffective)
  private readonly rejections: Rejection[] = [];
  private trialCount = 0;

  constructor(cands: readonly Candidate[], opts: AdaptiveOptions = {}) {
    this.cands = orderByGain(cands).filter((c) => c.rungs.length > 0);
    this.predictThreshold = opts.predictThreshold ?? 0.5;
    this.batchTarget = opts.batchTarget ?? 0.5;
    this.splitTarget = opts.splitTarget ?? 0.5;
    this.rungPrior = opts.nextRungPrior ?? nextRungPrior;
    this.calibrate = opts.calibrate ?? true;
    const priorOf = opts.priorOf ?? ((c: Candidate) => c.spec.prior);
    this.cands.forEach((c, i) => this.pool.push(this.item(i, 0, priorOf(c))));
  }

  next(): Setting[] | undefined {
    if (this.pending) throw new Error('report() the last trial before asking for the next');
    // Suspects of one item are settled without a trial.
    for (let s = this.suspects.at(-1); s && s.items.length <= 1; s = this.suspects.at(-1)) {
      this.suspects.pop();
      const it = s.items[0];
      if (it) this.reject(it, s.observed ? 'failed' : 'inferred');
    }
    const w = this.posterior();
    const suspect = this.suspects.pop();
    if (suspect) {
      const [tried, rest] = this.split(suspect.items, w);
      return this.issue({ items: tried, rest });
    }
    const again = this.reissue.shift();
    if (again) return this.issue({ items: again });
    if (this.pool.length === 0) return undefined;
    return this.issue({ items: this.batch(w) });
  }

  report(ok: boolean, ineffective: readonly string[] = [], deferred: readonly string[] = []): void {
    const p = this.pending;
    if (!p) throw new Error('no trial pending');
    this.pending = undefined;
    this.trialCount++;
    const off = new Set(ineffective);
    const later = new Set(deferred);
    const tried: Item[] = [];
    for (const it of p.items) {
      if (off.has(it.setting.option)) this.reject(it, 'ineffective');
      else if (later.has(it.setting.option)) this.pool.push(it);
      else tried.push(it);
    }
    const rest = p.rest ?? [];
    if (tried.length < p.items.length && rest.length > 0) {
      // The suspect being split held settings systemd ignores: its failure may not mean what we
      // took it to mean. Judge what was tried, put the untried part back untested.
      if (ok) this.kept.push(...tried);
      else if (tried.length) this.suspects.push({ items: tried, observed: true });
      this.pool.push(...rest);
      return;
    }
    if (tried.length === 0) return;
    if (ok) {
      this.kept.push(...tried);
      if (rest.length) this.suspects.push({ items: rest, observed: false });
    } else {
      this.suspects.push({ items: tried, observed: true });
      this.pool.push(...rest);
    }
  }

  accepted(): Setting[] {
    return this.kept.map((it) => it.setting);
  }

  /** A rung not under trial, as observation revised it: a new prior (its batch placement changes;
   * it is still verified by a trial), or rejected without a trial. A rejected rung that was part of
   * a failed batch explains that failure: the rest of that batch goes back to the pool untested. */
  revise(option: string, rung: string, change: Revision): boolean {
    const match = (it: Item) => it.setting.option === option && (it.setting.rung ?? it.setting.value) === rung;
    const i = this.pool.findIndex(match);
    if (i >= 0) {
      const it = this.pool[i]!;
      if ('reject' in change) {
        this.pool.splice(i, 1);
        this.reject(it, 'observed');
      } else {
        this.pool[i] = { ...this.item(it.cand, it.rung, change.prior), seq: it.seq };
      }
      return true;
    }
    if (!('reject' in change)) return false;
    const s = this.suspects.findIndex((g) => g.items.some(match));
    if (s < 0) return false;
    const [suspect] = this.suspects.splice(s, 1);
    const it = suspect!.items.find(match)!;
    const before = new Set(this.pool);
    this.reject(it, 'observed');
    // the failure is explained: the rest of the batch, with the option's next rung, is tried again
    // as the one batch it was (it was predicted or sized together), not split as a suspect
    const next = this.pool.filter((x) => !before.has(x));
    this.pool = this.pool.filter((x) => before.has(x));
    const rest = [...suspect!.items.filter((x) => x !== it), ...next];
    if (rest.length) this.reissue.push(rest);
    return true;
  }

  /** Rungs rejected so far, in order, and why. */
  rejected(): Rejection[] {
    return [...this.rejections];
  }

  /** Trials reported so far. */
  trials(): number {
    return this.trialCount;
  }

  /** The service's fragility as learnt so far (posterior mean of θ; 1 = as the catalog says). */
  fragility(): number {
    const w = this.posterior();
    return THETAS.reduce((s, t, j) => s + w[j]! * t, 0);
  }

  /** Trials still expected (the pending one excluded), from the calibrated chances: a batch of the
   * pool, about log2 of a failed group's size to find each culprit (Hwang: k·log2(n/k) + k), and
   * one trial for each weaker rung a failure brings. A rough figure for progress lines. */
  estimateRemaining(): number {
    const w = this.posterior();
    const fail = (it: Item) => THETAS.reduce((s, t, j) => s + w[j]! * failChance(t, it), 0);
    const pass = (items: readonly Item[]) => THETAS.reduce((s, t, j) => s + w[j]! * passAll(t, items), 0);
    const hasNext = (it: Item) => (it.rung + 1 < this.cands[it.cand]!.rungs.length ? 1 : 0);
    const find = (m: number) => (m > 1 ? Math.ceil(Math.log2(m)) : 0);
    let n = 0;
    const culpritNext = (items: readonly Item[]) => items.reduce((s, it) => s + hasNext(it), 0) / Math.max(1, items.length);
    if (this.pending) {
      const { items, rest = [] } = this.pending;
      const pFail = 1 - pass(items);
      // a split suspect holds a culprit either way: a pass leaves the rest as the suspect
      if (rest.length) n += (1 - pFail) * find(rest.length) + pFail * find(items.length) + culpritNext([...items, ...rest]);
      else n += pFail * (find(items.length) + culpritNext(items));
    }
    n += this.reissue.length;
    for (const s of this.suspects) {
      // a suspect of one is settled without a trial; its weaker rung is tried later
      n += find(s.items.length) + culpritNext(s.items);
    }
    const { pool } = this;
    if (pool.length) {
      const k = pool.reduce((s, it) => s + fail(it), 0);
      n += 1 + k * (1 + Math.log2(Math.max(1, pool.length / Math.max(1, k))));
      n += pool.reduce((s, it) => s + fail(it) * hasNext(it), 0);
    }
    return n;
  }

  // -------------------------------------------------------------------------------------------

  private item(cand: number, rung: number, prior: number): Item {
    const c = this.cands[cand]!;
    const r = c.rungs[rung]!;
    const p = clampPrior(prior);
    return { cand, rung, prior: p, seq: this.seq++, gain: c.spec.weight * (1 - r.residual) * p, setting: toSetting(c.spec, r) };
  }

  private issue(p: Pending): Setting[] {
    p.items.sort(byGain);
    this.pending = p;
    return p.items.map((it) => it.setting);
  }

  private reject(it: Item, reason: RejectReason): void {
    this.rejections.push({ setting: it.setting, reason });
    if (reason !== 'ineffective') this.failed.push(it);
    const c = this.cands[it.cand]!;
    if (it.rung + 1 < c.rungs.length) this.pool.push(this.item(it.cand, it.rung + 1, this.rungPrior(it.prior)));
  }

  /** Posterior weights over THETAS given the verdicts so far. */
  private posterior(): number[] {
    if (!this.calibrate) return ONLY_ONE;
    const ll = THETAS.map((t, j) => {
      let s = Math.log(THETA_PRIOR[j]!);
      for (const it of this.kept) s += Math.log(1 - failChance(t, it));
      for (const it of this.failed) s += Math.log(failChance(t, it));
      for (const g of this.suspects) s += Math.log(Math.max(1e-300, 1 - passAll(t, g.items)));
      return s;
    });
    const top = Math.max(...ll);
    const w = ll.map((x) => Math.exp(x - top));
    const sum = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / sum);
  }

  /** Takes the next batch out of the pool. */
  private batch(w: readonly number[]): Item[] {
    const order = [...this.pool].sort(byGain);
    let chosen: Item[] = [];
    if (!this.predicted) chosen = order.filter((it) => it.prior >= this.predictThreshold);
    this.predicted = true;
    if (chosen.length === 0) {
      const prod = THETAS.map(() => 1);
      for (const it of order) {
        const next = THETAS.map((t, j) => prod[j]! * (1 - failChance(t, it)));
        const chance = next.reduce((s, x, j) => s + w[j]! * x, 0);
        if (chosen.length === 0 || chance >= this.batchTarget) {
          chosen.push(it);
          next.forEach((x, j) => (prod[j] = x));
        }
      }
    }
    const taken = new Set(chosen);
    this.pool = this.pool.filter((it) => !taken.has(it));
    return chosen;
  }

  /** Splits a failed group of ≥ 2 items into the part to try and the rest: the safest items, as
   * many as make the chance that they pass, given that the group fails, nearest splitTarget. */
  private split(items: readonly Item[], w: readonly number[]): [Item[], Item[]] {
    const g = [...items].sort((a, b) => b.prior - a.prior || byGain(a, b));
    const m = g.length;
    // head[j][k]: chance that the first k items pass under THETAS[j]; tail[j][k]: the items from k on
    const head = THETAS.map((t) => {
      const out = [1];
      for (const it of g) out.push(out.at(-1)! * (1 - failChance(t, it)));
      return out;
    });
    const tail = THETAS.map((t) => {
      const out = [1];
      for (let i = m - 1; i >= 0; i--) out.unshift(out[0]! * (1 - failChance(t, g[i]!)));
      return out;
    });
    let best = 1;
    let bestScore = Infinity;
    for (let k = 1; k < m; k++) {
      let chance = 0;
      THETAS.forEach((_, j) => {
        const all = head[j]![m]!;
        if (all >= 1) return;
        chance += (w[j]! * head[j]![k]! * (1 - tail[j]![k]!)) / (1 - all);
      });
      const score = Math.abs(chance - this.splitTarget) + 1e-9 * Math.abs(k - m / 2);
      if (score < bestScore) {
        bestScore = score;
        best = k;
      }
    }
    return [g.slice(0, best), g.slice(best)];
  }
}
