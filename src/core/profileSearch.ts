// The search `apply` runs over a profile's settings (issue 16). Another host took every one of
// them, so the first trial is the whole profile, and when it fails the likeliest cause is one
// setting this host cannot take. Bisection by exclusion finds it in ⌈log2 n⌉ more trials: each
// runs the accepted set and everything but one half of the suspects. A passing trial accepts what
// it ran (the culprit is in the half left out); a failing one makes the half left out "presumed
// good": carried, untested, into every later trial, so that the trial which passes accepts it too.
// When a failing trial leaves one suspect, it is rejected only provisionally and the presumed
// settings get a trial of their own (the run of the final set, which the confirmation then watches
// in place). If that trial fails there were two culprits: the provisional rejections go back to
// be tried, and the search continues without presuming anything (inclusion bisection, as tune's
// planner does). Nothing is accepted without a passing trial. Pure.
import { toSetting, type Candidate, type Planner } from './plan.js';
import type { Rejection } from './search.js';
import type { Setting } from './types.js';

type Kind = 'batch' | 'split' | 'verify';

interface Pending {
  kind: Kind;
  /** What the trial runs on top of the accepted set. */
  tried: Setting[];
  /** The suspects in the trial (split). */
  in: Setting[];
  /** The suspects left out of it (split). */
  out: Setting[];
}

const without = (list: readonly Setting[], drop: ReadonlySet<string>) => list.filter((s) => !drop.has(s.option));

/** Each option judged with others (OptionSpec.judgedWith) placed right after the last of them, so
 * that a split rarely parts them: apart, it is not judged and waits for a trial of its own. */
function besideTheirs(cands: readonly Candidate[]): Candidate[] {
  const out = cands.filter((c) => !c.spec.judgedWith?.length);
  for (const c of cands.filter((x) => x.spec.judgedWith?.length)) {
    const last = Math.max(-1, ...c.spec.judgedWith!.map((d) => out.findIndex((o) => o.spec.name === d)));
    out.splice(last + 1, 0, c);
  }
  return out;
}

export class ProfileBisection implements Planner {
  private readonly kept: Setting[] = [];
  /** Not yet in any trial. */
  private pool: Setting[];
  /** Hold a setting that breaks the unit. */
  private suspects: Setting[] = [];
  /** The accepted set with the suspects was seen failing (not only with presumed settings besides). */
  private suspectsFirm = false;
  /** Left out of a failing trial: taken to be good, not yet run in a passing trial. */
  private presumed: Setting[] = [];
  /** Rejected while settings were presumed good: final once those pass. */
  private provisional: Setting[] = [];
  /** False once a presumption failed: from then on nothing untested rides along. */
  private presume = true;
  private readonly failedAlone = new Set<string>();
  private pending: Pending | undefined;
  private readonly rejections: Rejection[] = [];
  private trialCount = 0;

  /** OptionSpec.judgedWith by option. */
  private readonly deps = new Map<string, readonly string[]>();

  constructor(cands: readonly Candidate[]) {
    // one rung each: a profile's setting is taken as it is or not at all
    this.pool = besideTheirs(cands.filter((c) => c.rungs.length > 0)).map((c) => toSetting(c.spec, c.rungs[0]!));
    for (const c of cands) if (c.spec.judgedWith?.length) this.deps.set(c.spec.name, c.spec.judgedWith);
  }

  next(): Setting[] | undefined {
    if (this.pending) throw new Error('report() the last trial before asking for the next');
    if (this.suspects.length === 1) {
      const [s] = this.suspects.splice(0, 1) as [Setting];
      if (this.suspectsFirm) this.reject(s, this.failedAlone.has(s.option) ? 'failed' : 'inferred');
      else this.provisional.push(s);
    }
    if (this.suspects.length > 1) {
      const { out, inside } = this.split();
      return this.issue({ kind: 'split', tried: [...(this.presume ? this.presumed : []), ...inside], in: inside, out });
    }
    // what waits in the pool (settings deferred from a split) rides along: one restart for both
    if (this.presumed.length) return this.issue({ kind: 'verify', tried: [...this.presumed, ...this.pool], in: [], out: [] });
    this.settleProvisional();
    if (this.pool.length) return this.issue({ kind: 'batch', tried: [...this.pool], in: [], out: [] });
    return undefined;
  }

  report(ok: boolean, ineffective: readonly string[] = [], deferred: readonly string[] = []): void {
    const p = this.pending;
    if (!p) throw new Error('no trial pending');
    this.pending = undefined;
    this.trialCount++;
    const later = new Set(deferred);
    if (p.kind === 'batch' || p.kind === 'verify') this.pool = [];
    // not judged: a deferred suspect stays one unless the trial failed without it (the culprit is
    // then elsewhere); any other waits in the pool, tried once the search is through
    const deferredIn = p.in.filter((s) => later.has(s.option));
    this.pool.push(...p.tried.filter((s) => later.has(s.option) && !deferredIn.includes(s)));
    const off = new Set([...ineffective, ...deferred]);
    for (const s of p.tried) if (off.has(s.option) && !later.has(s.option)) this.reject(s, 'ineffective');
    const tried = without(p.tried, off);
    const inside = without(p.in, off);
    const out = without(p.out, off);
    this.presumed = without(this.presumed, off);
    if (tried.length === 0) {
      // systemd applied none of it: the trial ran nothing new and says nothing
      if (p.kind === 'split') this.suspects = [...out, ...inside, ...deferredIn];
      return;
    }
    if (!ok) this.pool.push(...deferredIn);
    if (!ok && tried.length === 1) this.failedAlone.add(tried[0]!.option);
    if (ok) {
      this.kept.push(...tried);
      // a passing trial ran every presumed setting (none is presumed once presume is off)
      this.presumed = [];
      this.suspects = p.kind === 'split' ? [...out, ...deferredIn] : [];
      if (p.kind === 'verify') this.settleProvisional();
      // kept ∪ suspects is the set that failed before: firm
      this.suspectsFirm = true;
      return;
    }
    if (p.kind === 'batch') {
      this.suspects = tried;
      this.suspectsFirm = true;
      return;
    }
    if (p.kind === 'split' && inside.length) {
      // the trial held presumed settings besides the suspects: the culprit is taken to be inside
      const heldPresumed = tried.length > inside.length;
      this.suspects = inside;
      this.suspectsFirm = !heldPresumed;
      if (this.presume) this.presumed.push(...out);
      else this.pool.push(...out);
      return;
    }
    // a presumption failed (a verify, or a split that ran presumed settings only): two culprits or
    // more; what was rejected meanwhile is tried again, and nothing is presumed from now on
    this.suspects = tried;
    this.suspectsFirm = true;
    this.pool.push(...this.provisional, ...(p.kind === 'split' ? out : []));
    this.provisional = [];
    this.presumed = [];
    this.presume = false;
  }

  accepted(): Setting[] {
    return [...this.kept];
  }

  /** Settings rejected so far, in order, and why ('inferred': its exclusion passed, it never ran alone). */
  rejected(): Rejection[] {
    return [...this.rejections];
  }

  trials(): number {
    return this.trialCount;
  }

  estimateRemaining(): number {
    const log2 = (n: number) => (n > 1 ? Math.ceil(Math.log2(n)) : 0);
    if (this.pool.length) return 1;
    if (this.suspects.length) return log2(this.suspects.length) + (this.presumed.length || this.suspects.length > 1 ? 1 : 0);
    return this.presumed.length ? 1 : 0;
  }

  /** Suspects in two parts, the larger left out, where no option in the trial lacks one it is
   * judged with (that would leave it unjudged); else plain halves. */
  private split(): { out: Setting[]; inside: Setting[] } {
    const s = this.suspects;
    const half = Math.ceil(s.length / 2);
    const lacks = (inside: Setting[], out: Setting[]) => inside.some((x) => (this.deps.get(x.option) ?? []).some((d) => out.some((o) => o.option === d)));
    const cuts = Array.from({ length: s.length - 1 }, (_, i) => i + 1).sort((a, b) => Math.abs(a - half) - Math.abs(b - half) || b - a);
    for (const c of cuts) {
      const [first, rest] = [s.slice(0, c), s.slice(c)];
      if (!lacks(rest, first)) return { out: first, inside: rest };
      if (!lacks(first, rest)) return { out: rest, inside: first };
    }
    return { out: s.slice(0, half), inside: s.slice(half) };
  }

  private issue(p: Pending): Setting[] {
    this.pending = p;
    return [...p.tried];
  }

  private reject(s: Setting, reason: Rejection['reason']): void {
    this.rejections.push({ setting: s, reason });
  }

  /** The presumed settings passed (or there were none): the provisional rejections stand. */
  private settleProvisional(): void {
    for (const s of this.provisional) this.reject(s, 'inferred');
    this.provisional = [];
  }
}
