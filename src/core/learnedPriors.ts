// Priors learnt from trials: how often each option's rung passed and was tried, on this host's
// units and on others' (export/import). They only move the chance the adaptive planner gives a
// strongest rung, so they reorder and batch trials; every accepted setting is still one that passed
// a trial of its own batch. Pure: the store (adapters/priorsFile.ts) does the I/O.
import { z } from 'zod';
import type { JournalRecord } from './journal.js';
import type { OptionSpec, Rung, Setting } from './types.js';

export interface PriorCount {
  tried: number;
  passed: number;
}

/** option → rung (the ladder rung a setting was built from) → counts. Maps, never plain objects:
 * an option named "__proto__" in a journal or an imported file is just a key. */
export type PriorCounts = ReadonlyMap<string, ReadonlyMap<string, PriorCount>>;

/** A count saturates here: an imported file cannot make one entry weigh without bound. */
export const MAX_COUNT = 1_000_000;
/** Entries a document may hold; merging keeps the most tried ones beyond it. */
export const MAX_ENTRIES = 4096;

const OPTION = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
/** Printable ASCII: `priors show` prints rungs to a terminal. */
const RUNG = /^[\x20-\x7e]{1,256}$/;

const entrySchema = z
  .object({
    option: z.string().regex(OPTION, 'not an option name'),
    rung: z.string().regex(RUNG, 'not a rung value (printable ASCII, 1 to 256 characters)'),
    tried: z.number().int().min(0).max(MAX_COUNT),
    passed: z.number().int().min(0).max(MAX_COUNT),
  })
  .strict()
  .refine((e) => e.passed <= e.tried, { message: 'passed exceeds tried' });

export const priorsSchema = z
  .object({
    version: z.literal(1),
    created: z.iso.datetime({ offset: true }),
    entries: z.array(entrySchema).max(MAX_ENTRIES),
  })
  .strict();

export type PriorsDoc = z.infer<typeof priorsSchema>;

/** The key a rung is counted under: the ladder rung it was built from (learned paths and a
 * policy's items make the value unit-specific; the rung is what another unit tries too). */
export const rungKey = (r: Pick<Rung, 'value' | 'rung'> | Pick<Setting, 'value' | 'rung'>): string => r.rung ?? r.value;

const countable = (option: string, rung: string) => OPTION.test(option) && RUNG.test(rung);

class Tally {
  readonly m = new Map<string, Map<string, PriorCount>>();
  add(option: string, rung: string, tried: number, passed: number): void {
    if (!countable(option, rung)) return; // a garbled record must not make the saved file invalid
    let rungs = this.m.get(option);
    if (!rungs) this.m.set(option, (rungs = new Map()));
    const c = rungs.get(rung) ?? { tried: 0, passed: 0 };
    const t = Math.min(MAX_COUNT, c.tried + tried);
    rungs.set(rung, { tried: t, passed: Math.min(t, c.passed + passed) });
  }
}

/** Counts from journal records (one unit's, or the slice of one tune: lastTune). Only the search's
 * trials count (the minimisation's steps, the cost measurement and the confirmation judge other
 * things). Per option and rung:
 *  - a passed trial counts a pass for each of its settings (alone or in a batch);
 *  - a failed trial of one setting counts a failure;
 *  - a failed batch of several counts nothing for its members, except the one member left when
 *    all the others passed later in that tune: the planner rejected it without a trial of its own
 *    (group testing, 'inferred'), and the journal shows why — a failure too;
 *  - a trial systemd applied nothing of ('not-effective') says nothing about breakage. */
export function countsFromJournal(records: readonly JournalRecord[]): PriorCounts {
  const t = new Tally();
  let phase: string | undefined;
  type Key = { option: string; rung: string };
  let failedBatches: Array<{ at: number; members: Key[] }> = [];
  let lastPass = new Map<string, number>(); // option\0rung → index of its last passing trial
  let lastFail = new Map<string, number>(); // … of its last failed trial of its own
  const id = (k: Key) => `${k.option}\u0000${k.rung}`;
  const settle = () => {
    const inferred = new Set<string>(); // nested failed batches (G, then its failing part) infer the same rung
    for (const b of failedBatches) {
      const left = b.members.filter((k) => (lastPass.get(id(k)) ?? -1) < b.at);
      const k = left[0];
      // not when a trial of its own followed: that failure is counted already
      if (left.length !== 1 || !k || (lastFail.get(id(k)) ?? -1) > b.at || inferred.has(id(k))) continue;
      inferred.add(id(k));
      t.add(k.option, k.rung, 1, 0);
    }
    failedBatches = [];
    lastPass = new Map();
    lastFail = new Map();
  };
  records.forEach((r, i) => {
    if (r.kind === 'tune-begin') {
      settle();
      phase = undefined;
    } else if (r.kind === 'phase') {
      phase = r.state === 'begin' ? r.phase : undefined;
    } else if (r.kind === 'trial-end' && (phase === undefined || phase === 'search')) {
      if (r.outcome === 'too-costly' || r.verdict === 'not-effective' || r.verdict === 'cost') return;
      const keys = new Map<string, Key>();
      for (const s of r.settings) keys.set(id({ option: s.option, rung: rungKey(s) }), { option: s.option, rung: rungKey(s) });
      // a rung that passed earlier in this tune is tried again only to shrink it (a minimisation
      // step in a journal without phases, learned paths dropped): that judges the step, not the rung
      const members = [...keys.values()].filter((k) => !lastPass.has(id(k)));
      if (r.outcome === 'accepted') {
        for (const k of members) {
          t.add(k.option, k.rung, 1, 1);
          lastPass.set(id(k), i);
        }
      } else if (members.length === 1) {
        t.add(members[0]!.option, members[0]!.rung, 1, 0);
        lastFail.set(id(members[0]!), i);
      } else if (members.length > 1) {
        failedBatches.push({ at: i, members });
      }
    }
  });
  settle();
  return t.m;
}

/** The records of the last tune, from its tune-begin on; none when it did not end (a tune-end
 * after it): a tune is counted once, when it is over. */
export function lastTune(records: readonly JournalRecord[]): JournalRecord[] {
  let begin = -1;
  let end = -1;
  records.forEach((r, i) => {
    if (r.kind === 'tune-begin') begin = i;
    else if (r.kind === 'tune-end') end = i;
  });
  return begin >= 0 && end > begin ? records.slice(begin, end + 1) : [];
}

export function mergeCounts(a: PriorCounts, b: PriorCounts): PriorCounts {
  const t = new Tally();
  for (const src of [a, b]) for (const [o, rungs] of src) for (const [r, c] of rungs) t.add(o, r, c.tried, c.passed);
  return t.m;
}

export function countsFromDoc(doc: PriorsDoc): PriorCounts {
  const t = new Tally();
  for (const e of doc.entries) t.add(e.option, e.rung, e.tried, e.passed); // duplicates add up
  return t.m;
}

/** The document for counts, sorted; beyond MAX_ENTRIES the most tried entries are kept. */
export function docFromCounts(counts: PriorCounts, created: Date): PriorsDoc {
  const entries = [...counts].flatMap(([option, rungs]) => [...rungs].map(([rung, c]) => ({ option, rung, tried: c.tried, passed: c.passed })));
  const kept = entries.length > MAX_ENTRIES ? [...entries].sort((x, y) => y.tried - x.tried).slice(0, MAX_ENTRIES) : entries;
  kept.sort((x, y) => x.option.localeCompare(y.option) || x.rung.localeCompare(y.rung));
  return { version: 1, created: created.toISOString(), entries: kept };
}

export type ParsedPriors = { ok: true; counts: PriorCounts } | { ok: false; why: string };

/** Validates a priors document's text: the first problem, in one line, when it is not one. */
export function parsePriors(text: string): ParsedPriors {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { ok: false, why: `not JSON (${(e as Error).message.split('\n')[0]!.slice(0, 120)})` };
  }
  const r = priorsSchema.safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0];
    const where = i?.path.map(String).join('.') || 'document';
    return { ok: false, why: `not a priors document (${where}: ${(i?.message ?? 'invalid').split('\n')[0]})` };
  }
  return { ok: true, counts: countsFromDoc(r.data) };
}

export const MIN_PRIOR = 0.02;
export const MAX_PRIOR = 0.98;

/** Weight of the catalog's prior, in trials. The catalog's chance sums up many daemons, but this
 * host's units are others; 4 pseudo-trials let a host-wide pattern (a kernel, an LSM, a distro's
 * packaging) take over after a few verdicts while one unlucky trial cannot: a 0.9 option drops
 * below the planner's 0.5 cut for its predicted first batch only after 4 failures and no pass
 * (3.6/8 = 0.45), a 0.7 one after 2. */
export const PRIOR_STRENGTH = 4;

/** Posterior mean of Beta(s·p + passed, s·(1−p) + failed): the catalog's (or observation's) chance
 * p moved by what trials elsewhere showed, clamped as the planner clamps its chances. */
export function blend(catalogPrior: number, c: PriorCount | undefined): number {
  const p = Number.isFinite(catalogPrior) ? Math.min(1, Math.max(0, catalogPrior)) : 0.5;
  const tried = c && Number.isFinite(c.tried) ? Math.max(0, c.tried) : 0;
  const passed = c && Number.isFinite(c.passed) ? Math.min(tried, Math.max(0, c.passed)) : 0;
  const mean = (PRIOR_STRENGTH * p + passed) / (PRIOR_STRENGTH + tried);
  return Math.min(MAX_PRIOR, Math.max(MIN_PRIOR, mean));
}

/** The counts of a rung, if any. */
export function countOf(counts: PriorCounts | undefined, option: string, rung: string): PriorCount | undefined {
  return counts?.get(option)?.get(rung);
}

/** The catalog with each option carrying its learnt counts (OptionSpec.priorCounts), so that every
 * planner built from it (the tune's and plan's) weighs them. */
export function withPriorCounts(catalog: readonly OptionSpec[], counts: PriorCounts | undefined): readonly OptionSpec[] {
  if (!counts || counts.size === 0) return catalog;
  return catalog.map((spec) => {
    const rungs = counts.get(spec.name);
    return rungs ? { ...spec, priorCounts: rungs } : spec;
  });
}
