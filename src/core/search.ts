// Adaptive search: predict the whole working set, verify it in one trial, and when a batch fails
// find the culprits by splitting it (adaptive group testing), so that k breaking options among n
// cost about k·log2(n/k) trials instead of n. Pure: no I/O.
//
// Model. Each live item is one rung of one option. A trial applies the accepted set plus a batch;
// the planner assumes breakage is monotone (adding restrictions never repairs a broken service),
// which holds for single breaking settings and for pairs that break only together alike. Then:
//  - a passing batch is accepted as a whole — the only way anything is ever accepted, so every
//    accepted setting was part of a trial that passed on top of the then-accepted set;
//  - a failing batch G is a "suspect" group: accepted ∪ G breaks, and by monotonicity it keeps
//    breaking whatever is accepted later. We test a part H of it: if H passes, H is accepted and
//    G∖H is still a suspect (no trial needed to know it); if H fails, H is the suspect and G∖H
//    goes back to the pool untested. A suspect of one item is rejected without a trial;
//  - a rejected rung makes the option's next rung an item again (value ladders).
//
// Batch sizes come from the priors (chance that an item works), Hwang-style: a new batch takes
// items in order of expected gain while the chance that the whole batch passes stays ≥ batchTarget,
// and a suspect is split where the chance that the tested part passes, given that the suspect
// fails, is nearest splitTarget (with equal priors: halves). The very first batch is the
// prediction: every candidate whose prior is ≥ predictThreshold, in one trial.
//
// Calibration. Services differ in how much hardening they tolerate, so the catalog's priors are
// scaled per service: each item's failure odds are multiplied by an unknown factor θ, and a
// posterior over a small grid of θ values is recomputed from the verdicts so far (accepted items,
// rejected items and suspect groups make an exact likelihood for independent items). A service
// that took the predicted batch gets bigger batches for its risky options; one that broke often
// gets smaller ones.
import { orderByGain, toSetting, type Candidate, type Planner } from './plan.js';
import type { Setting } from './types.js';

export interface AdaptiveOptions {
  /** The first trial holds every candidate whose prior is at least this (default 0.5; above 1 disables it). */
  predictThreshold?: number;
  /** A new batch grows while its chance to pass stays at least this (default 0.5). */
  batchTarget?: number;
  /** Split a failed batch where the tested part passes with about this chance (default 0.5). */
  splitTarget?: number;
  /** Prior of the next rung after a rung is rejected, as a function of the rejected rung's prior.
   * Default: halfway between that prior and 0.6 (see nextRungPrior). */
  nextRungPrior?: (failedPrior: number) => number;
  /** Learn a per-service scale on the catalog's failure odds (default true). */
  calibrate?: boolean;
}

export type RejectReason =
  | 'failed' // this rung was in a trial, on its own, that failed
  | 'inferred' // a failing batch minus a passing part left only this rung (no trial of its own)
  | 'ineffective'; // systemd did not apply it

export interface Rejection {
  setting: Setting;
  reason: RejectReason;
}

/** Default ladder rule: a rejected rung shows the service uses some of what that rung forbids; the
 * next, weaker rung forbids less. So its chance is pulled towards a coin flip slightly favouring
 * success (0.6): lower than a confident prior (0.9 → 0.75: the sibling's failure is real
 * evidence the service touches this area), higher than a pessimistic one (0.3 → 0.45: a weaker
 * capability set or syscall filter usually does fit once the strongest did not). */
export function nextRungPrior(failedPrior: number): number {
  return (failedPrior + 0.6) / 2;
}

interface Item {
  cand: number;
  rung: number;
  /** Prior chance that this rung works, before calibration. */
  prior: number;
  /** Failure odds (1 − prior) / prior, before calibration. */
  odds: number;
  gain: number;
  seq: number;
  setting: Setting;
}

interface Suspect {
  items: Item[];
  /** This exact set failed in a trial (rather than being left over from a passing part). */
  observed: boolean;
}

interface Pending {
  items: Item[];
  /** When splitting a suspect: the part not under trial. */
  rest?: Item[];
}

// θ grid: 2^-4 … 2^2 in half steps, with a log-normal prior around 1 (σ = 1.5 doublings).
const ENV = (globalThis as any).process?.env ?? {};
const LO = Number(ENV.LO ?? -6), HI = Number(ENV.HI ?? 6), SIG = Number(ENV.SIG ?? 2), LIN = ENV.LIN === '1';
const THETAS = Array.from({ length: (HI - LO) * 2 + 1 }, (_, i) => 2 ** (LO + i / 2));
const SIGUP = Number(ENV.SIGUP ?? SIG);
const THETA_PRIOR = THETAS.map((t) => Math.exp(-(Math.log2(t) ** 2) / (2 * (t > 1 ? SIGUP : SIG) ** 2)));
const MIN_PRIOR = 0.02;
const MAX_PRIOR = 0.98;

const clampPrior = (p: number) => Math.min(MAX_PRIOR, Math.max(MIN_PRIOR, Number.isFinite(p) ? p : 0.5));

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
    this.cands.forEach((c, i) => this.pool.push(this.item(i, 0, c.spec.prior)));
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
      const [tested, rest] = this.split(suspect.items, w);
      return this.issue({ items: tested, rest });
    }
    if (this.pool.length === 0) return undefined;
    return this.issue({ items: this.batch(w) });
  }

  report(ok: boolean, ineffective: readonly string[] = []): void {
    const p = this.pending;
    if (!p) throw new Error('no trial pending');
    this.pending = undefined;
    this.trialCount++;
    const off = new Set(ineffective);
    const tried: Item[] = [];
    for (const it of p.items) {
      if (off.has(this.cands[it.cand]!.spec.name)) this.reject(it, 'ineffective');
      else tried.push(it);
    }
    const rest = p.rest ?? [];
    if (tried.length === 0 || (tried.length < p.items.length && rest.length > 0)) {
      // Nothing was judged, or the suspect we split held settings systemd ignores, so its failure
      // may not mean what we took it to mean: put the untested part back, no inference.
      if (ok) this.kept.push(...tried);
      else if (tried.length) this.suspects.push({ items: tried, observed: true });
      this.pool.push(...rest);
      return;
    }
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

  /** Rungs rejected so far, in order, and why. */
  rejected(): Rejection[] {
    return [...this.rejections];
  }

  /** Trials reported so far. */
  trials(): number {
    return this.trialCount;
  }

  // -------------------------------------------------------------------------------------------

  private item(cand: number, rung: number, prior: number): Item {
    const c = this.cands[cand]!;
    const r = c.rungs[rung]!;
    const p = clampPrior(prior);
    return {
      cand, rung, prior: p, odds: (1 - p) / p, seq: this.seq++,
      gain: c.spec.weight * (1 - r.residual) * p,
      setting: toSetting(c.spec, r),
    };
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

  /** Posterior weights over THETAS given the verdicts so far (uniform-ish prior when not calibrating). */
  private posterior(): number[] {
    if (!this.calibrate) return THETAS.map((t) => (t === 1 ? 1 : 0));
    const ll = THETAS.map((t, j) => {
      let s = Math.log(THETA_PRIOR[j]!);
      for (const it of this.kept) s += Math.log(1 - q(t, it.odds));
      for (const it of this.failed) s += Math.log(q(t, it.odds));
      for (const g of this.suspects) s += Math.log(Math.max(1e-300, 1 - passAll(t, g.items)));
      return s;
    });
    const top = Math.max(...ll);
    const w = ll.map((x) => Math.exp(x - top));
    const sum = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / sum);
  }

  /** Chance that all of `items` work, averaged over the posterior. */
  private passChance(w: number[], items: readonly Item[]): number {
    return THETAS.reduce((s, t, j) => s + w[j]! * passAll(t, items), 0);
  }

  /** Takes the next batch out of the pool. */
  private batch(w: number[]): Item[] {
    const order = [...this.pool].sort(byGain);
    let chosen: Item[];
    if (!this.predicted && this.predictThreshold <= 1) {
      chosen = order.filter((it) => it.prior >= this.predictThreshold);
    } else {
      chosen = [];
    }
    this.predicted = true;
    if (chosen.length === 0) {
      const prod = THETAS.map(() => 1);
      for (const it of order) {
        const next = THETAS.map((t, j) => prod[j]! * (1 - q(t, it.odds)));
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

  /** Splits a failed group (≥ 2 items) into the part to test and the rest. The tested part is the
   * safest items, as many as keep its chance of passing, given the group fails, nearest splitTarget:
   * if it passes they are all accepted and the risky rest stays a suspect. */
  private split(items: readonly Item[], w: number[]): [Item[], Item[]] {
    const g = [...items].sort((a, b) => a.odds - b.odds || byGain(a, b));
    const m = g.length;
    let best = 1;
    let bestScore = Infinity;
    for (let k = 1; k < m; k++) {
      const head = g.slice(0, k);
      const tail = g.slice(k);
      let chance = 0;
      THETAS.forEach((t, j) => {
        const all = passAll(t, g);
        if (all >= 1) return;
        chance += (w[j]! * passAll(t, head) * (1 - passAll(t, tail))) / (1 - all);
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

/** Failure chance of an item with failure odds `odds`, with the odds scaled by θ. */
function q(theta: number, odds: number): number {
  if (LIN) return Math.min(0.995, theta * odds / (1 + odds));
  const o = theta * odds;
  return o / (1 + o);
}

function passAll(theta: number, items: readonly Item[]): number {
  let p = 1;
  for (const it of items) p *= 1 - q(theta, it.odds);
  return p;
}

function byGain(a: Item, b: Item): number {
  return b.gain - a.gain || a.seq - b.seq;
}
