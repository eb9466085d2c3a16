// Learnt priors (core/learnedPriors.ts): counted from journals, merged, blended with the catalog's,
// validated as documents; and a planner built with them (core/tunePlan.ts) batches differently but
// still verifies every setting it keeps by a trial.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_COUNT, MAX_ENTRIES, MAX_PRIOR, MIN_PRIOR, blend, countsFromDoc, countsFromJournal, docFromCounts, lastTune, mergeCounts, parsePriors,
  priorsSchema, withPriorCounts, type PriorCounts,
} from '../../src/core/learnedPriors.js';
import { recordSchema, type JournalRecord } from '../../src/core/journal.js';
import type { Candidate } from '../../src/core/plan.js';
import type { SafetyFacts } from '../../src/core/policy.js';
import { Adaptive } from '../../src/core/search.js';
import { drive, makeInstance, prng, type Run, type SimInstance } from '../../src/core/searchSim.js';
import { plannerFor } from '../../src/core/tunePlan.js';
import type { OptionSpec, Rung, Setting } from '../../src/core/types.js';

const T = '2026-01-01T00:00:00.000Z';
const U = 'x.service';
const set = (option: string, value: string, extra: Partial<Setting> = {}): Setting => ({ option, value, lines: [`${option}=${value}`], ...extra });
const begin = (): JournalRecord => ({ t: T, unit: U, kind: 'tune-begin', strategy: 'adaptive', probes: [], exposure: 5 });
const end = (): JournalRecord => ({ t: T, unit: U, kind: 'tune-end', exposureBefore: 5, exposureAfter: 3, trials: 1, restarts: 1, durationMs: 1 });
const phase = (p: 'search' | 'minimise' | 'confirm', state: 'begin' | 'end'): JournalRecord => ({ t: T, unit: U, kind: 'phase', phase: p, state });
let trialNo = 0;
const trial = (ok: boolean, settings: Setting[], verdict = ok ? 'ok' : 'exit-status'): JournalRecord => ({
  t: T, unit: U, kind: 'trial-end', trial: ++trialNo, settings, outcome: ok ? 'accepted' : 'rejected', verdict, reason: 'r', evidence: [],
});
const get = (c: PriorCounts, o: string, r: string) => c.get(o)?.get(r);
const flat = (c: PriorCounts) => [...c].flatMap(([o, rs]) => [...rs].map(([r, x]) => `${o}=${r} ${x.passed}/${x.tried}`)).sort();

describe('counting trials from a journal', () => {
  it('counts a pass for each setting of a passed trial and a failure for a failed trial of one', () => {
    const c = countsFromJournal([begin(), trial(true, [set('A', 'yes'), set('B', 'strict')]), trial(false, [set('C', 'yes')]), trial(true, [set('C', 'no')]), end()]);
    expect(flat(c)).toEqual(['A=yes 1/1', 'B=strict 1/1', 'C=no 1/1', 'C=yes 0/1']);
  });

  it('counts nothing for the members of a failed batch of several', () => {
    const c = countsFromJournal([begin(), trial(false, [set('A', 'yes'), set('B', 'yes'), set('C', 'yes')]), end()]);
    expect(c.size).toBe(0);
  });

  it("counts the member a failed batch's passing rest left over as a failure ('inferred'), once", () => {
    const c = countsFromJournal([
      begin(), phase('search', 'begin'),
      trial(false, [set('A', 'yes'), set('B', 'yes'), set('C', 'yes'), set('D', 'yes')]),
      trial(false, [set('A', 'yes'), set('B', 'yes'), set('C', 'yes')]), // C breaks
      trial(true, [set('D', 'yes')]),
      trial(true, [set('A', 'yes'), set('B', 'yes')]),
      phase('search', 'end'), end(),
    ]);
    expect(flat(c)).toEqual(['A=yes 1/1', 'B=yes 1/1', 'C=yes 0/1', 'D=yes 1/1']);
  });

  it('does not infer a failure for a member tried on its own later (that trial counts)', () => {
    const c = countsFromJournal([begin(), trial(false, [set('A', 'yes'), set('B', 'yes')]), trial(true, [set('A', 'yes')]), trial(true, [set('B', 'yes')]), end()]);
    expect(flat(c)).toEqual(['A=yes 1/1', 'B=yes 1/1']);
    const d = countsFromJournal([begin(), trial(false, [set('A', 'yes'), set('B', 'yes')]), trial(true, [set('A', 'yes')]), trial(false, [set('B', 'yes')]), end()]);
    expect(flat(d)).toEqual(['A=yes 1/1', 'B=yes 0/1']);
  });

  it('counts a setting under the ladder rung it was built from, and only the search phase', () => {
    const c = countsFromJournal([
      begin(), phase('search', 'begin'),
      trial(false, [set('ProtectSystem', 'strict')]),
      trial(true, [set('ProtectSystem', 'strict; ReadWritePaths=/var/x', { rung: 'strict', paths: ['/var/x'] })]),
      phase('search', 'end'), phase('minimise', 'begin'),
      trial(false, [set('SystemCallFilter', '@system-service ~@resources', { rung: '@system-service', items: ['@resources'] })]),
      phase('minimise', 'end'), phase('confirm', 'begin'), trial(false, [set('ProtectSystem', 'strict')]), phase('confirm', 'end'),
      end(),
    ]);
    expect(flat(c)).toEqual(['ProtectSystem=strict 1/2']);
  });

  it('ignores trials systemd applied nothing of, cost drops, and a rung tried again after it passed (legacy minimisation)', () => {
    const c = countsFromJournal([
      begin(),
      trial(false, [set('A', 'yes')], 'not-effective'),
      trial(true, [set('B', 'empty', { rung: 'empty' })]),
      trial(false, [set('B', 'keep X', { rung: 'empty', items: ['X'] })]),
      { t: T, unit: U, kind: 'trial-end', trial: 99, settings: [set('C', 'yes')], outcome: 'too-costly', verdict: 'cost', reason: 'r', evidence: [] },
      end(),
    ]);
    expect(flat(c)).toEqual(['B=empty 1/1']);
  });

  it('reads hostile records without letting them into the counts or the document', () => {
    // what a tampered journal line can hold and still pass the journal's schema
    const parsed = recordSchema.parse({
      t: T, unit: U, kind: 'trial-end', trial: 1, outcome: 'accepted', verdict: 'ok', reason: 'r', evidence: [],
      settings: [
        { option: '__proto__', value: 'yes', lines: [] },
        { option: 'constructor', value: 'yes', lines: [] },
        { option: 'A', value: 'x\u001b[2J\nforged', lines: [] },
        { option: 'A', value: 'y'.repeat(300), lines: [] },
        { option: 'Opt', value: 'yes', lines: [] },
        { option: 'Opt', value: 'yes', lines: [] }, // twice in one trial: counted once
        { option: '', value: 'yes', lines: [] },
      ],
    });
    const c = countsFromJournal([begin(), parsed, end()]);
    expect(Object.getPrototypeOf(c)).toBe(Map.prototype);
    expect(({} as Record<string, unknown>).yes).toBeUndefined(); // nothing reached Object.prototype
    // "__proto__" and "" are no option names, nor is a rung with controls or of 300 characters
    expect(flat(c)).toEqual(['Opt=yes 1/1', 'constructor=yes 1/1']);
    expect(priorsSchema.safeParse(docFromCounts(c, new Date(T))).success).toBe(true);
  });

  it("takes the last tune's records once it ended, and none while it runs", () => {
    const first = [begin(), trial(true, [set('A', 'yes')]), end()];
    const second = [begin(), trial(false, [set('A', 'yes')])];
    expect(lastTune([...first, ...second])).toEqual([]);
    expect(flat(countsFromJournal(lastTune([...first, ...second, end()])))).toEqual(['A=yes 0/1']);
    expect(flat(countsFromJournal(lastTune(first)))).toEqual(['A=yes 1/1']);
  });

  /** The journal a planner's run leaves (a trial-end per trial, as engine/tune/trial.ts writes). */
  const journalOf = (run: Run): JournalRecord[] => [begin(), phase('search', 'begin'), ...run.trials.map((t) => trial(t.ok, t.settings)), phase('search', 'end'), end()];

  it("agrees with the adaptive planner's own verdicts: its rejections (tried or inferred) are the failures", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), fc.integer({ min: 2, max: 14 }), fc.integer({ min: 0, max: 5 }), (seed, n, k) => {
        const sim = makeInstance(prng(seed), { n, k });
        const planner = new Adaptive(sim.cands);
        const counts = countsFromJournal(journalOf(drive(planner, sim)));
        const failed = new Map<string, number>();
        for (const r of planner.rejected()) failed.set(`${r.setting.option}=${r.setting.value}`, (failed.get(`${r.setting.option}=${r.setting.value}`) ?? 0) + 1);
        const accepted = new Set(planner.accepted().map((s) => `${s.option}=${s.value}`));
        for (const [o, rungs] of counts) {
          for (const [r, x] of rungs) {
            const key = `${o}=${r}`;
            expect(x.passed, key).toBe(accepted.has(key) ? 1 : 0);
            expect(x.tried - x.passed, key).toBe(failed.get(key) ?? 0);
          }
        }
        for (const key of [...failed.keys(), ...accepted]) expect(get(counts, key.split('=')[0]!, key.split('=')[1]!), key).toBeDefined();
      }),
      { numRuns: 150 },
    );
  });
});

describe('merging counts', () => {
  const doc = (entries: Array<[string, string, number, number]>) => countsFromDoc({ version: 1, created: T, entries: entries.map(([option, rung, tried, passed]) => ({ option, rung, tried, passed })) });

  it('adds counts rung by rung and keeps the others', () => {
    const m = mergeCounts(doc([['A', 'yes', 3, 1], ['B', 'strict', 2, 2]]), doc([['A', 'yes', 2, 2], ['A', 'no', 1, 0]]));
    expect(flat(m)).toEqual(['A=no 0/1', 'A=yes 3/5', 'B=strict 2/2']);
  });

  it('saturates at MAX_COUNT, never letting passed exceed tried', () => {
    const m = mergeCounts(doc([['A', 'yes', MAX_COUNT, MAX_COUNT]]), doc([['A', 'yes', 10, 10]]));
    expect(get(m, 'A', 'yes')).toEqual({ tried: MAX_COUNT, passed: MAX_COUNT });
    const n = mergeCounts(doc([['A', 'yes', MAX_COUNT, 0]]), doc([['A', 'yes', 5, 5]]));
    expect(get(n, 'A', 'yes')).toEqual({ tried: MAX_COUNT, passed: 5 });
  });

  it('round-trips through a document, and keeps the most tried entries beyond MAX_ENTRIES', () => {
    const m = doc([['B', 'x', 1, 1], ['A', 'y', 4, 2]]);
    const d = docFromCounts(m, new Date(T));
    expect(d.entries.map((e) => e.option)).toEqual(['A', 'B']);
    const p = parsePriors(JSON.stringify(d));
    expect(p.ok && flat(p.counts)).toEqual(flat(m));
    const many = doc(Array.from({ length: MAX_ENTRIES + 10 }, (_, i): [string, string, number, number] => [`O${i}`, 'r', i, 0]));
    const big = docFromCounts(many, new Date(T));
    expect(big.entries).toHaveLength(MAX_ENTRIES);
    expect(big.entries.some((e) => e.option === 'O0')).toBe(false);
    expect(big.entries.some((e) => e.option === `O${MAX_ENTRIES + 9}`)).toBe(true);
  });
});

describe('blending with the catalog', () => {
  it('is the Beta posterior mean with the catalog as 4 pseudo-trials', () => {
    expect(blend(0.9, undefined)).toBeCloseTo(0.9);
    expect(blend(0.9, { tried: 4, passed: 0 })).toBeCloseTo(0.45);
    expect(blend(0.9, { tried: 3, passed: 0 })).toBeGreaterThan(0.5); // three failures elsewhere: still predicted
    expect(blend(0.3, { tried: 6, passed: 6 })).toBeCloseTo(7.2 / 10);
    expect(blend(0.5, { tried: 1e6, passed: 0 })).toBe(MIN_PRIOR);
    expect(blend(0.5, { tried: 1e6, passed: 1e6 })).toBe(MAX_PRIOR);
    expect(blend(Number.NaN, { tried: 0, passed: 0 })).toBe(0.5);
    expect(blend(0.9, { tried: Number.NaN, passed: 3 })).toBeCloseTo(0.9);
  });

  it('stays within [0.02, 0.98] and moves toward the observed pass rate', () => {
    fc.assert(
      fc.property(fc.double({ min: -1, max: 2, noNaN: true }), fc.nat(1000), fc.nat(1000), (p, a, b) => {
        const tried = Math.max(a, b);
        const passed = Math.min(a, b);
        const q = blend(p, { tried, passed });
        expect(q).toBeGreaterThanOrEqual(MIN_PRIOR);
        expect(q).toBeLessThanOrEqual(MAX_PRIOR);
        const start = blend(p, undefined);
        if (tried === 0) {
          expect(q).toBeCloseTo(start, 12);
          return;
        }
        const rate = passed / tried;
        expect(Math.abs(q - rate)).toBeLessThanOrEqual(Math.abs(start - rate) + 1e-12);
        // strictly, where the clamp does not hide it
        const inside = (x: number) => x > MIN_PRIOR && x < MAX_PRIOR;
        if (inside(start) && inside(q) && rate > start + 1e-9) expect(q).toBeGreaterThan(start);
        if (inside(start) && inside(q) && rate < start - 1e-9) expect(q).toBeLessThan(start);
      }),
      { numRuns: 500 },
    );
  });
});

describe('priors documents', () => {
  const good = { version: 1, created: T, entries: [{ option: 'ProtectSystem', rung: 'strict', tried: 3, passed: 2 }] };
  const bad: Array<[string, unknown]> = [
    ['another version', { ...good, version: 2 }],
    ['no created', { version: 1, entries: [] }],
    ['a created that is no date', { ...good, created: 'yesterday' }],
    ['passed above tried', { ...good, entries: [{ option: 'A', rung: 'yes', tried: 1, passed: 2 }] }],
    ['a negative count', { ...good, entries: [{ option: 'A', rung: 'yes', tried: -1, passed: 0 }] }],
    ['a fractional count', { ...good, entries: [{ option: 'A', rung: 'yes', tried: 1.5, passed: 0 }] }],
    ['a count beyond the cap', { ...good, entries: [{ option: 'A', rung: 'yes', tried: MAX_COUNT + 1, passed: 0 }] }],
    ['a count as a string', { ...good, entries: [{ option: 'A', rung: 'yes', tried: '3', passed: 0 }] }],
    ['an option that is no name', { ...good, entries: [{ option: '../../etc', rung: 'yes', tried: 1, passed: 0 }] }],
    ['a rung with an escape', { ...good, entries: [{ option: 'A', rung: '\u001b[31mred', tried: 1, passed: 0 }] }],
    ['an empty rung', { ...good, entries: [{ option: 'A', rung: '', tried: 1, passed: 0 }] }],
    ['an unknown field', { ...good, entries: [{ option: 'A', rung: 'yes', tried: 1, passed: 0, weight: 9 }] }],
    ['an unknown top-level field', { ...good, extra: true }],
    ['too many entries', { ...good, entries: Array.from({ length: MAX_ENTRIES + 1 }, () => good.entries[0]) }],
    ['entries as an object', { ...good, entries: { A: 1 } }],
    ['an array', [good]],
    ['null', null],
  ];

  it('accepts a valid one', () => {
    const p = parsePriors(JSON.stringify(good));
    expect(p.ok && flat(p.counts)).toEqual(['ProtectSystem=strict 2/3']);
  });

  it.each(bad)('rejects %s, saying why in one line', (_what, doc) => {
    const p = parsePriors(JSON.stringify(doc));
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.why).toMatch(/^not a priors document \(.+\)$/);
    if (!p.ok) expect(p.why).not.toContain('\n');
  });

  it('rejects text that is no JSON', () => {
    for (const text of ['', '{', 'not json', '\u0000']) {
      const p = parsePriors(text);
      expect(p.ok).toBe(false);
      if (!p.ok) expect(p.why).toMatch(/^not JSON/);
    }
  });
});

describe('a planner built with learnt priors', () => {
  const facts = {} as SafetyFacts; // the specs below have no priorFrom: observation moves nothing
  const rung = (name: string, value: string): Rung => ({ value, lines: [`${name}=${value}`], residual: 0, inForce: () => false });
  const cand = (name: string, prior: number, values = ['yes']): Candidate => ({ spec: { name, weight: 100, prior } as OptionSpec, rungs: values.map((v) => rung(name, v)) });
  const cands = () => [cand('A', 0.9), cand('B', 0.9), cand('C', 0.9, ['yes', 'no']), cand('D', 0.8)];
  const elsewhere: PriorCounts = new Map([['C', new Map([['yes', { tried: 6, passed: 0 }]])]]);
  const names = (s: readonly Setting[] | undefined) => (s ?? []).map((x) => x.option).sort();

  /** A run of the planner on a service, with the invariant that matters: every accepted setting was
   * part of a trial that passed on top of what was accepted before it. */
  function verifiedRun(planner: ReturnType<typeof plannerFor>, sim: SimInstance): Run {
    const run = drive(planner, sim);
    const key = (s: Setting) => `${s.option}=${s.value}`;
    for (const s of run.accepted) expect(run.trials.some((t) => t.ok && t.settings.some((x) => key(x) === key(s))), key(s)).toBe(true);
    return run;
  }

  it('leaves an option that always failed elsewhere out of its first, predicted batch', () => {
    expect(names(plannerFor('adaptive', cands(), facts).next())).toEqual(['A', 'B', 'C', 'D']);
    expect(names(plannerFor('adaptive', cands(), facts, elsewhere).next())).toEqual(['A', 'B', 'D']);
    // the route the tune takes: the counts ride on the catalog entries (withPriorCounts)
    const carried = cands().map((c) => ({ ...c, spec: withPriorCounts([c.spec], elsewhere)[0]! }));
    expect(names(plannerFor('adaptive', carried, facts).next())).toEqual(['A', 'B', 'D']);
  });

  it('still tries that option, and keeps it only after a trial of it passed', () => {
    const works: SimInstance = { cands: cands(), breaking: new Set(), pairs: [] };
    const run = verifiedRun(plannerFor('adaptive', works.cands, facts, elsewhere), works);
    expect(run.accepted.find((s) => s.option === 'C')?.value).toBe('yes');
    expect(run.trials.filter((t) => t.settings.some((s) => s.option === 'C'))).toHaveLength(1);
  });

  it('ends with the same verified set as without them, in fewer trials when they are right', () => {
    const breaksC: SimInstance = { cands: cands(), breaking: new Set(['C=yes']), pairs: [] };
    const plain = verifiedRun(plannerFor('adaptive', breaksC.cands, facts), breaksC);
    const learnt = verifiedRun(plannerFor('adaptive', breaksC.cands, facts, elsewhere), breaksC);
    const final = (r: Run) => r.accepted.map((s) => `${s.option}=${s.value}`).sort();
    expect(final(learnt)).toEqual(final(plain));
    expect(final(learnt)).toContain('C=no');
    expect(learnt.trials.length).toBeLessThan(plain.trials.length);
    expect(learnt.trials.filter((t) => !t.ok).length).toBeLessThan(plain.trials.filter((t) => !t.ok).length);
  });
});
