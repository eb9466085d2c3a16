// apply's search (core/profileSearch.ts) against an oracle: a trial passes unless the accepted set
// plus what it runs holds a setting this host cannot take. Whatever the culprits, the search ends
// with exactly the others accepted, each accepted by a trial that passed, and with one culprit it
// takes at most 2 + ceil(log2 n) trials (the whole profile, ceil(log2 n) exclusions, and the run of
// the final set when the last exclusion failed).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Candidate } from '../../src/core/plan.js';
import { ProfileBisection } from '../../src/core/profileSearch.js';
import type { OptionSpec } from '../../src/core/types.js';

const cand = (name: string): Candidate => ({
  spec: { name, weight: 1, prior: 0.95 } as OptionSpec,
  rungs: [{ value: 'yes', lines: [`${name}=yes`], residual: 0, inForce: () => true }],
});

function run(n: number, culprits: ReadonlySet<number>, ineffective: ReadonlySet<number> = new Set(), judged?: { x: number; dep: number }) {
  const names = Array.from({ length: n }, (_, i) => `O${i}`);
  const bad = new Set([...culprits].map((i) => names[i]!));
  const off = new Set([...ineffective].map((i) => names[i]!));
  const [x, dep] = judged ? [names[judged.x]!, names[judged.dep]!] : [];
  const deferredOnce = new Set<string>();
  const p = new ProfileBisection(names.map((nm) => (nm === x ? { ...cand(nm), spec: { ...cand(nm).spec, judgedWith: [dep!] } as OptionSpec } : cand(nm))));
  const kept = new Set<string>();
  const passedIn = new Set<string>();
  let trials = 0;
  let lastPassed = false;
  for (let s = p.next(); s; s = p.next()) {
    if (++trials > 4 * n + 4) throw new Error('did not end');
    const ran = s.map((x) => x.option);
    // the engine: x read back out of force without dep (not accepted, not in the trial): deferred once, then ineffective
    const lacking = x !== undefined && ran.includes(x) && !kept.has(dep!) && !ran.includes(dep!);
    const deferred = lacking && !deferredOnce.has(x) ? [x] : [];
    if (deferred.length) deferredOnce.add(x!);
    const notApplied = ran.filter((o) => off.has(o) || (lacking && o === x && !deferred.length));
    const applied = ran.filter((o) => !notApplied.includes(o) && !deferred.includes(o));
    const ok = ![...kept, ...applied].some((o) => bad.has(o));
    if (ok) for (const o of applied) (kept.add(o), passedIn.add(o));
    lastPassed = ok;
    p.report(ok, notApplied, deferred);
  }
  const accepted = p.accepted().map((x) => x.option);
  const rejected = p.rejected();
  return { names, bad, off, accepted, rejected, trials, kept, passedIn, lastPassed, x, dep };
}

describe('apply: bisection by exclusion', () => {
  it('a profile this host takes whole: one trial', () => {
    for (const n of [1, 2, 8, 27]) expect(run(n, new Set()).trials).toBe(1);
  });

  it('one culprit among n: found and rejected alone within 1 + ceil(log2 n) trials, plus the run of the final set', () => {
    for (const n of [2, 3, 5, 8, 13, 27, 40]) {
      const counts: number[] = [];
      for (let b = 0; b < n; b++) {
        const r = run(n, new Set([b]));
        expect(r.accepted.sort()).toEqual(r.names.filter((x) => !r.bad.has(x)).sort());
        expect(r.rejected.map((x) => x.setting.option)).toEqual([...r.bad]);
        expect(r.trials, `n=${n} culprit ${b}`).toBeLessThanOrEqual(2 + Math.ceil(Math.log2(n)));
        counts.push(r.trials);
      }
      // somewhere the last exclusion passes: no extra run
      expect(Math.min(...counts), `n=${n}`).toBeLessThanOrEqual(1 + Math.ceil(Math.log2(n)));
    }
  });

  it('any culprits, and settings systemd does not apply: exactly the others accepted, each by a passing trial', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 30 }).chain((n) => fc.tuple(fc.constant(n), fc.uniqueArray(fc.nat(n - 1), { maxLength: 4 }), fc.uniqueArray(fc.nat(n - 1), { maxLength: 2 }), fc.option(fc.uniqueArray(fc.nat(n - 1), { minLength: 2, maxLength: 2 })))),
        ([n, culprits, ineffective, pair]) => {
          const judged = pair ? { x: pair[0]!, dep: pair[1]! } : undefined;
          const r = run(n, new Set(culprits), new Set(ineffective.filter((i) => !culprits.includes(i) && i !== judged?.dep && i !== judged?.x)), judged);
          // an option judged with a setting this host cannot take is never judged: read back out of force
          const lost = r.x !== undefined && r.bad.has(r.dep!) ? [r.x] : [];
          if (lost.length) r.off.add(lost[0]!);
          const good = r.names.filter((x) => !r.bad.has(x) && !r.off.has(x));
          expect(r.accepted.sort()).toEqual(good.sort());
          expect([...r.passedIn].sort()).toEqual(good.sort());
          const why = new Map(r.rejected.map((x) => [x.setting.option, x.reason]));
          for (const b of r.bad) if (!lost.includes(b)) expect(why.get(b), b).toMatch(/failed|inferred/);
          for (const o of r.off) if (r.rejected.some((x) => x.setting.option === o)) expect(why.get(o)).toBe('ineffective');
          expect(r.rejected.every((x) => r.bad.has(x.setting.option) || r.off.has(x.setting.option))).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('apply: an option judged with another (judgedWith)', () => {
  const withDep = (name: string, deps: string[]): Candidate => ({ ...cand(name), spec: { ...cand(name).spec, judgedWith: deps } as OptionSpec });

  it('is placed right after the option it is judged with, so that splits rarely part them', () => {
    const p = new ProfileBisection([cand('A'), withDep('N', ['T']), cand('B'), cand('T'), cand('C')]);
    expect(p.next()!.map((s) => s.option)).toEqual(['A', 'B', 'T', 'N', 'C']);
  });

  it('never split from the option it is judged with; left without it (that option breaks), it is deferred once, then read back as not applied', () => {
    const p = new ProfileBisection([cand('T'), cand('A'), cand('B'), withDep('N', ['T'])]);
    const next = () => p.next()?.map((s) => s.option);
    expect(next()).toEqual(['T', 'N', 'A', 'B']);
    p.report(false); // T breaks
    expect(next()).toEqual(['A', 'B']); // T and N left out together
    p.report(true);
    expect(next()).toEqual(['T']); // N left out rather than tried without T
    p.report(false);
    expect(next()).toEqual(['N']); // presumed good, but T is rejected: the engine defers it
    p.report(false, [], ['N']);
    expect(next()).toEqual(['N']); // once more, from the pool: now read back as not applied
    p.report(false, ['N']);
    expect(next()).toBeUndefined();
    expect(p.accepted().map((s) => s.option)).toEqual(['A', 'B']);
    expect(p.rejected().map((r) => [r.setting.option, r.reason])).toEqual([['T', 'failed'], ['N', 'ineffective']]);
  });
});
