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
   * batch was then tried without them. */
  report(ok: boolean, ineffective?: readonly string[]): void;
  /** Settings accepted so far, in acceptance order. */
  accepted(): Setting[];
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

  report(ok: boolean, ineffective: readonly string[] = []): void {
    if (!this.pending) throw new Error('no trial pending');
    const c = this.queue[0]!;
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
}
