// The phase fold (core/journal.ts): what a resumed tune continues and what it skips.
import { describe, expect, it } from 'vitest';
import { acceptedSet, lastTuneBegin, phaseFold, recordSchema, rejectedSinceBegin, rolledBackByUser, type JournalRecord, type NewRecord } from '../../src/core/journal.js';
import { formatRecord } from '../../src/cli/format.js';

const at = (r: NewRecord): JournalRecord => ({ t: '2026-01-01T00:00:00.000Z', unit: 'x.service', ...r }) as JournalRecord;
const begin: NewRecord = { kind: 'tune-begin', strategy: 'adaptive', probes: [], exposure: 9 };
const phase = (p: 'search' | 'minimise' | 'cost' | 'confirm' | 'persist', state: 'begin' | 'end'): NewRecord => ({ kind: 'phase', phase: p, state });
const trialEnd = (trial: number, verdict = 'ok'): NewRecord => ({
  kind: 'trial-end', trial, settings: [{ option: 'A', value: 'yes', lines: ['A=yes'] }], outcome: 'accepted', verdict, reason: '', evidence: [],
});

describe('phaseFold', () => {
  it('names the phase begun and not ended, and the ended ones', () => {
    const f = phaseFold([begin, phase('search', 'begin'), trialEnd(1), phase('search', 'end'), phase('confirm', 'begin')].map(at));
    expect(f.open).toBe('confirm');
    expect([...f.ended]).toEqual(['search']);
    expect(f.trials).toBe(1);
  });

  it('starts over at every tune-begin', () => {
    const f = phaseFold([begin, phase('search', 'begin'), phase('search', 'end'), phase('confirm', 'begin'), phase('confirm', 'end'), begin, phase('search', 'begin')].map(at));
    expect(f.open).toBe('search');
    expect(f.ended.size).toBe(0);
    expect(f.trials).toBe(0);
  });

  it('a phase begun again after it ended is not ended until it ends again', () => {
    const f = phaseFold([begin, phase('minimise', 'begin'), phase('minimise', 'end'), phase('minimise', 'begin')].map(at));
    expect(f.ended.has('minimise')).toBe(false);
    expect(f.open).toBe('minimise');
  });

  it('counts judged trials only: not-effective and too-costly records are not trials', () => {
    const f = phaseFold([begin, trialEnd(1, 'not-effective'), trialEnd(2, 'cost'), trialEnd(3)].map(at));
    expect(f.trials).toBe(1);
  });

  it('records of the new kind parse, refuse unknown phases, and format on one line', () => {
    const r = at({ kind: 'phase', phase: 'confirm', state: 'begin', detail: 'A B\x1b[2J' });
    expect(recordSchema.safeParse(r).success).toBe(true);
    expect(recordSchema.safeParse({ ...r, phase: 'teardown' }).success).toBe(false);
    expect(recordSchema.safeParse({ ...r, state: 'middle' }).success).toBe(false);
    const line = formatRecord(r);
    expect(line).toMatch(/confirm\s+begins — A B\\x1b\[2J$/);
    expect(line).not.toContain('\n');
  });
});

describe('the confirmation\'s rollback (labelled by its phase)', () => {
  const rb = (extra: object = {}) => at({ kind: 'rollback', by: 'guard', options: ['A'], reason: 'confirmation of the whole set failed (x); bisection points at it', ...extra } as NewRecord);

  it('parses with and without the label; refuses another phase', () => {
    expect(recordSchema.safeParse(rb()).success).toBe(true); // journals written before the label
    expect(recordSchema.parse(rb({ phase: 'confirm' }))).toMatchObject({ by: 'guard', phase: 'confirm' });
    expect(recordSchema.parse(rb({ phase: 'search' }))).toMatchObject({ by: 'guard', phase: 'search' }); // a setting a passing candidate took out of force
    expect(recordSchema.safeParse(rb({ phase: 'minimise' })).success).toBe(false);
  });

  it('removes the setting from the accepted set, is not the user\'s rollback, and formats as before', () => {
    const recs = [begin, trialEnd(1)].map(at).concat(rb({ phase: 'confirm' }) as JournalRecord);
    expect(acceptedSet(recs)).toEqual([]);
    expect(rolledBackByUser(recs).size).toBe(0);
    expect(formatRecord(recs.at(-1)!)).toBe(formatRecord(rb()));
  });
});

describe('folds a resumed tune reads', () => {
  const rejected = (trial: number, option: string): NewRecord => ({
    kind: 'trial-end', trial, settings: [{ option, value: 'yes', lines: [`${option}=yes`] }], outcome: 'rejected', verdict: 'exit', reason: '', evidence: [],
  });
  it('rejectedSinceBegin: single-setting rejections since the last tune-begin only', () => {
    const recs = [begin, rejected(1, 'A'), begin, rejected(2, 'B'), trialEnd(3)].map(at);
    expect([...rejectedSinceBegin(recs)]).toEqual(['B=yes']);
  });
  it('lastTuneBegin: the last begin record, or none', () => {
    const second = { ...begin, probes: ['http://127.0.0.1/'] } as NewRecord;
    expect(lastTuneBegin([begin, trialEnd(1), second].map(at))?.probes).toEqual(['http://127.0.0.1/']);
    expect(lastTuneBegin([trialEnd(1)].map(at))).toBeUndefined();
  });
});
