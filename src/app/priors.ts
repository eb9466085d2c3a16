// priors: the host's learnt priors (core/learnedPriors.ts) shown, exported for another host and
// imported from one; and what a tune does with them: its planner weighs them, and its trials are
// merged in once it has ended. In this process, on the state directory (never through the daemon).
// Priors only reorder and batch trials: nothing here can make a tune keep a setting it did not try.
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { MAX_PRIORS_BYTES, readHostPriors, writeHostPriors } from '../adapters/priorsFile.js';
import { writeFileDurable } from '../adapters/fsutil.js';
import { AutohardenError } from '../core/errors.js';
import {
  blend, countsFromJournal, docFromCounts, lastTune, mergeCounts, parsePriors, withPriorCounts, type PriorCounts,
} from '../core/learnedPriors.js';
import type { JournalRecord } from '../core/journal.js';
import { refuseControl } from '../core/text.js';
import type { OptionSpec } from '../core/types.js';
import { schemaParser } from './useCase.js';

export type Warn = (message: string) => void;

/** The host's counts for a tune or a plan: a malformed file is said once and weighs nothing. */
export function hostCounts(stateDir: string, warn: Warn): PriorCounts {
  const h = readHostPriors(stateDir);
  if (h.state === 'bad') warn(`learnt priors ignored: ${h.why}`);
  return h.counts;
}

/** The catalog weighted by the host's counts. */
export function learnedCatalog(stateDir: string, catalog: readonly OptionSpec[], warn: Warn): readonly OptionSpec[] {
  return withPriorCounts(catalog, hostCounts(stateDir, warn));
}

/** Merges the trials of the tune that just ended (the last in `records`) into the host's counts.
 * Never throws: the tune is done, and its priors are a convenience. A malformed file is left as it
 * is (a person may want to look at it) and not updated. */
export function learnFromTune(stateDir: string, records: () => readonly JournalRecord[], warn: Warn): void {
  const notUpdated = (why: string) => warn(`learnt priors not updated with this tune's trials: ${why.split('\n')[0]}`);
  try {
    const mine = countsFromJournal(lastTune(records()));
    if (mine.size === 0) return;
    const h = readHostPriors(stateDir);
    if (h.state === 'bad') return notUpdated(h.why);
    writeHostPriors(stateDir, mergeCounts(h.counts, mine));
  } catch (e) {
    notUpdated((e as Error).message);
  }
}

/** The host's counts for a command that shows or changes them: a malformed file is an error. */
function requireHost(stateDir: string): PriorCounts {
  const h = readHostPriors(stateDir);
  if (h.state === 'bad') throw new AutohardenError('Config', `${h.why}; fix or remove it`);
  return h.counts;
}

export interface PriorRow {
  option: string;
  rung: string;
  passed: number;
  tried: number;
  /** The catalog's chance for the option's strongest rung; absent for an option it does not list. */
  catalog?: number;
  /** What the planner believes when this rung is the strongest one tried (before observation of
   * the unit moves the catalog's chance). */
  prior?: number;
}

export function showPriors(stateDir: string, catalog: readonly OptionSpec[]): PriorRow[] {
  const byName = new Map(catalog.map((s) => [s.name, s]));
  const rows: PriorRow[] = [];
  for (const e of docFromCounts(requireHost(stateDir), new Date()).entries) {
    const spec = byName.get(e.option);
    rows.push({ ...e, ...(spec ? { catalog: spec.prior, prior: blend(spec.prior, e) } : {}) });
  }
  return rows;
}

/** The host's counts as a priors document (JSON), for another host. */
export function exportPriors(stateDir: string, now = new Date()): string {
  return `${JSON.stringify(docFromCounts(requireHost(stateDir), now), null, 1)}\n`;
}

const pathArg = (what: string) => z.string().min(1, `${what}: a file name is needed`).transform((f) => resolve(refuseControl(f, what, { percent: true })));
const importSchema = z.object({ file: pathArg('priors import FILE') });
const exportSchema = z.object({ output: pathArg('--output').optional() });
export const parseImport = schemaParser(importSchema);
export const parseExport = schemaParser(exportSchema);

/** Writes an export to `file` (replaced whole: a reader never sees half of it). */
export function writeExport(file: string, text: string): void {
  try {
    writeFileDurable(file, text, 0o644);
  } catch (e) {
    throw new AutohardenError('Failed', `cannot write ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export interface ImportResult {
  file: string;
  path: string;
  entries: number;
  trials: number;
}

/** Validates a priors document from another host and adds its counts to this host's. Bad input is a
 * Usage error and changes nothing. */
export function importPriors(stateDir: string, file: string): ImportResult {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_PRIORS_BYTES) throw new Error(`larger than ${MAX_PRIORS_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new AutohardenError('Usage', `priors import: cannot read ${file} (${why}); nothing imported`);
  }
  const p = parsePriors(text);
  if (!p.ok) throw new AutohardenError('Usage', `priors import: ${file}: ${p.why}; nothing imported`);
  const merged = mergeCounts(requireHost(stateDir), p.counts);
  const path = writeHostPriors(stateDir, merged);
  const all = [...p.counts.values()].flatMap((rungs) => [...rungs.values()]);
  return { file, path, entries: all.length, trials: all.reduce((n, c) => n + c.tried, 0) };
}
