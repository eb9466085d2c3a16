// The tune report is a pure fold over what a session journaled and noted: which trials count for
// the search, which rejections were retried, and what later phases took back.
import { describe, expect, it } from 'vitest';
import type { NewRecord } from '../../src/core/journal.js';
import { NOT_APPLIED, foldReport, type ReportBase, type ReportEvent } from '../../src/core/report.js';
import type { Setting } from '../../src/core/types.js';

const s = (option: string, value = 'yes'): Setting => ({ option, value, lines: [`${option}=${value}`] });
const base: ReportBase = {
  unit: 'web.service', exposureBefore: 9.6, exposureAfter: 4.2, trials: 7, restarts: 9, durationMs: 1234,
  warnings: ['w'], safety: new Map([['A', 'verifiable'], ['B', 'silent'], ['C', 'verifiable']]),
};
const trial = (n: number, settings: Setting[], outcome: 'accepted' | 'rejected', reason: string, verdict = outcome === 'accepted' ? 'ok' : 'exit'): NewRecord[] => [
  { kind: 'trial-begin', trial: n, settings },
  { kind: 'trial-end', trial: n, settings, outcome, verdict, reason, evidence: [] },
];

describe('foldReport', () => {
  it('takes counters from the base and reports nothing for an empty session', () => {
    expect(foldReport(base, [])).toEqual({
      unit: 'web.service', exposureBefore: 9.6, exposureAfter: 4.2, trials: 7, restarts: 9, durationMs: 1234, complete: true,
      warnings: ['w'], accepted: [], rejected: [], skipped: [],
    });
  });

  it('is complete unless the tune was stopped by its limits, and then says why', () => {
    expect(foldReport({ ...base, stoppedBy: '--max-restarts 4 reached' }, [])).toMatchObject({ complete: false, stoppedBy: '--max-restarts 4 reached' });
    expect(foldReport(base, [])).not.toHaveProperty('stoppedBy');
  });

  it('counts a search trial only through the note that the step rests on it', () => {
    const events: ReportEvent[] = [
      ...trial(1, [s('A')], 'rejected', 'EROFS'),
      { kind: 'retried', trial: 1 },
      ...trial(2, [s('A', 'yes; paths')], 'accepted', 'ok 2'),
      ...trial(3, [s('A', 'yes; less')], 'rejected', 'needed after all'), // the learned path check
      ...trial(4, [s('A', 'yes; paths')], 'accepted', 'ok 4'),
      { kind: 'judged', trial: 4, ineffective: [] },
    ];
    const r = foldReport(base, events);
    expect(r.accepted).toEqual([{ option: 'A', value: 'yes; paths', reason: 'ok 4', safety: 'verifiable' }]);
    // the retried rejection says so (and carries no safety class); trial 3 is not a rejection of A
    expect(r.rejected).toEqual([{ option: 'A', value: 'yes', reason: 'EROFS (retrying with the paths it named)' }]);
  });

  it('rejects a single failed setting, not a failed batch, and names options systemd did not apply', () => {
    const r = foldReport(base, [
      ...trial(1, [s('A'), s('B')], 'rejected', 'batch failed'),
      { kind: 'judged', trial: 1, ineffective: [] },
      ...trial(2, [s('B'), s('C')], 'rejected', 'B broke'),
      { kind: 'judged', trial: 2, ineffective: ['C'] },
      ...trial(3, [s('C')], 'rejected', 'systemd did not apply C', 'not-effective'),
      { kind: 'judged', trial: 3, ineffective: ['C'] },
    ]);
    expect(r.rejected).toEqual([
      { option: 'C', value: 'yes', reason: NOT_APPLIED, safety: 'verifiable' },
      { option: 'B', value: 'yes', reason: 'B broke', safety: 'silent' },
      { option: 'C', value: 'yes', reason: NOT_APPLIED, safety: 'verifiable' },
    ]);
    expect(r.accepted).toEqual([]);
  });

  it('replaces an option accepted again at the end, and reports an inferred rejection once', () => {
    const r = foldReport(base, [
      ...trial(1, [s('A'), s('B')], 'accepted', 'ok'),
      { kind: 'judged', trial: 1, ineffective: [] },
      { kind: 'inferred', setting: s('C') },
      { kind: 'inferred', setting: s('C') },
      { kind: 'phase', phase: 'minimise', state: 'begin' },
      ...trial(2, [s('A', 'smaller')], 'accepted', 'still ok'),
      ...trial(3, [s('A', 'smallest')], 'rejected', 'too small'),
      { kind: 'phase', phase: 'minimise', state: 'end' },
    ]);
    expect(r.accepted.map((a) => `${a.option}=${a.value}`)).toEqual(['B=yes', 'A=smaller']);
    expect(r.rejected).toEqual([
      { option: 'C', value: 'yes', reason: 'its batch failed and everything else in it passed', safety: 'verifiable' },
      { option: 'A', value: 'smallest', reason: 'too small', safety: 'verifiable' },
    ]);
  });

  it('folds the finish: a too-costly drop, the cost, a confirmation culprit, the persisted path, skips', () => {
    const r = foldReport(base, [
      { kind: 'skipped', option: 'X', value: '', reason: 'needs systemd 999+' },
      ...trial(1, [s('A'), s('B'), s('C')], 'accepted', 'ok'),
      { kind: 'judged', trial: 1, ineffective: [] },
      { kind: 'cost', options: ['A', 'B', 'C'], verdict: 'over', ratio: 1.3, spread: 0.01, lower: 1.2, upper: 1.4, pairs: 6, budget: 0.05, atBound: false, description: '+30%' },
      { kind: 'trial-begin', trial: 2, settings: [s('C')] },
      { kind: 'trial-end', trial: 2, settings: [s('C')], outcome: 'too-costly', verdict: 'cost', reason: 'costs +30%', evidence: [], cost: { ratio: 1.3, spread: 0.01 } },
      { kind: 'rollback', by: 'guard', phase: 'confirm', options: ['B'], reason: 'confirmation of the whole set failed (late); bisection points at it' },
      { kind: 'culprit', setting: s('B'), reason: 'late' },
      { kind: 'persisted', path: '/etc/systemd/system/web.service.d/zz-autoharden-50-accepted.conf' },
    ]);
    expect(r.skipped).toEqual([{ option: 'X', value: '', reason: 'needs systemd 999+', safety: undefined }]);
    expect(r.accepted.map((a) => a.option)).toEqual(['A']);
    expect(r.rejected).toEqual([
      { option: 'C', value: 'yes', reason: 'too-costly: costs +30%', safety: 'verifiable' },
      { option: 'B', value: 'yes', reason: 'confirmation failed: late' },
    ]);
    expect(r.cost).toEqual({ options: ['A', 'B', 'C'], verdict: 'over', ratio: 1.3, spread: 0.01, description: '+30%' });
    expect(r.persistedTo).toMatch(/accepted\.conf$/);
  });

  it('is pure: folding twice gives the same report and leaves its input alone', () => {
    const events: ReportEvent[] = [...trial(1, [s('A')], 'accepted', 'ok'), { kind: 'judged', trial: 1, ineffective: [] }];
    const copy = structuredClone(events);
    expect(foldReport(base, events)).toEqual(foldReport(base, events));
    expect(events).toEqual(copy);
  });
});
