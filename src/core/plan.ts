// Search strategies: which settings to try next, given the verdicts so far. Pure: no I/O, so a
// simulated service can drive it in unit tests and benchmarks.
import type { OptionSpec, Rung, Setting } from './types.js';

/** An option with the rungs of its ladder still worth trying (strongest first). */
export interface Candidate {
  spec: OptionSpec;
  rungs: Rung[];
}

export interface Planner {
  /** Settings for the next trial, or undefined when the search is over. */
  next(): Setting[] | undefined;
  /** The verdict on the settings last returned by next(). `ineffective` names options systemd
   * did not apply (read back over D-Bus): they count as rejected at that rung, and the rest of the
   * batch was then tried without them. `deferred` names options whose read-back depends on others
   * the trial lacked (OptionSpec.judgedWith): not judged, to be tried again untested. */
  report(ok: boolean, ineffective?: readonly string[], deferred?: readonly string[]): void;
  /** Settings accepted so far, in acceptance order. */
  accepted(): Setting[];
  /** Trials the search still expects after those reported (the pending one excluded), from the
   * priors: for progress lines, never for decisions. Cheap and pure; 0 once next() would end. */
  estimateRemaining(): number;
  /** What observation learned about a rung not under trial (the kernel's seccomp log): a new prior,
   * or a rejection without a trial of its own (`reject`: why). Optional: the one-at-a-time baseline
   * learns nothing. True when a rung was found and changed. */
  revise?(option: string, rung: string, change: Revision): boolean;
}

export type Revision = { prior: number } | { reject: string };

/** Default ladder rule. A rejected rung shows the service uses some of what that rung forbids; the
 * next, weaker rung forbids less. Its chance is pulled halfway towards 0.6: below a confident prior
 * (0.9 → 0.75: the sibling's failure is evidence that the service touches this area) and above a
 * pessimistic one (0.3 → 0.45: once the strictest capability set or address-family list failed,
 * the broader next rung usually fits). */
export function nextRungPrior(failedPrior: number): number {
  return (failedPrior + 0.6) / 2;
}

/** Trials a ladder is expected to take from rung `from` on, when each rung is tried alone until
 * one passes: rung j is reached when all before it failed. */
export function expectedLadderTrials(c: Candidate, from = 0): number {
  let p = c.spec.prior;
  for (let j = 0; j < from; j++) p = nextRungPrior(p);
  let reach = 1;
  let sum = 0;
  for (let j = from; j < c.rungs.length; j++) {
    sum += reach;
    reach *= 1 - Math.min(1, Math.max(0, p));
    p = nextRungPrior(p);
  }
  return sum;
}

/** The setting a rung applies, with the structure a built rung carries. */
export function toSetting(spec: OptionSpec, rung: Rung): Setting {
  const { value, lines, rung: base, paths, items } = rung;
  return { option: spec.name, value, lines, ...(base !== undefined ? { rung: base } : {}), ...(paths ? { paths } : {}), ...(items ? { items } : {}) };
}

/** Expected gain of an option's strongest rung: exposure weight times the chance it works. */
export function expectedGain(c: Candidate): number {
  const best = c.rungs[0];
  return best ? c.spec.weight * (1 - best.residual) * c.spec.prior : 0;
}

export function orderByGain(cands: readonly Candidate[]): Candidate[] {
  return [...cands].sort((a, b) => expectedGain(b) - expectedGain(a) || a.spec.name.localeCompare(b.spec.name));
}

/** The baseline: one option per trial, walking down its ladder on rejection. */
export class OneAtATime implements Planner {
  private readonly queue: Candidate[];
  private rung = 0;
  private pending: Setting[] | undefined;
  private readonly kept: Setting[] = [];

  constructor(cands: readonly Candidate[]) {
    this.queue = orderByGain(cands).filter((c) => c.rungs.length > 0);
  }

  next(): Setting[] | undefined {
    if (this.pending) throw new Error('report() the last trial before asking for the next');
    const c = this.queue[0];
    const r = c?.rungs[this.rung];
    if (!c || !r) return undefined;
    this.pending = [toSetting(c.spec, r)];
    return this.pending;
  }

  report(ok: boolean, ineffective: readonly string[] = [], deferred: readonly string[] = []): void {
    if (!this.pending) throw new Error('no trial pending');
    const c = this.queue[0]!;
    if (deferred.includes(c.spec.name)) {
      // not judged: tried again after the others
      this.queue.push(this.queue.shift()!);
      this.rung = 0;
      this.pending = undefined;
      return;
    }
    if (ineffective.includes(c.spec.name)) ok = false;
    if (ok) this.kept.push(...this.pending);
    if (ok || this.rung + 1 >= c.rungs.length) {
      this.queue.shift();
      this.rung = 0;
    } else {
      this.rung += 1;
    }
    this.pending = undefined;
  }

  accepted(): Setting[] {
    return [...this.kept];
  }

  estimateRemaining(): number {
    let n = 0;
    this.queue.forEach((c, i) => {
      // the current option's ladder from its current rung; a pending trial is that rung's own
      n += i === 0 ? expectedLadderTrials(c, this.rung) - (this.pending ? 1 : 0) : expectedLadderTrials(c);
    });
    return Math.max(0, n);
  }
}
