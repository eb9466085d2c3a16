// tune --audit: the battery's two runs become the report's line, the journal's records and the
// report document's section (the before run is journaled just before tune-begin, the after run
// just after tune-end).
import { describe, expect, it } from 'vitest';
import { summarise, type TechniqueResult } from '../../src/core/audit.js';
import type { JournalRecord } from '../../src/core/journal.js';
import { buildReport } from '../../src/core/reportDoc.js';
import type { TuneReport } from '../../src/core/report.js';
import { formatRecord, formatTuneReport } from '../../src/cli/format.js';
import { tuneAudit, type BatteryRun } from '../../src/app/tuneAudit.js';

const run = (outcomes: Record<string, TechniqueResult['outcome']>, when: 'before' | 'after'): BatteryRun => {
  const results = Object.entries(outcomes).map(([id, outcome]) => ({ id, outcome, detail: '' }));
  const summary = summarise(results);
  return { summary, record: { kind: 'audit', when, blocked: summary.blocked, applicable: summary.applicable, possible: results.filter((r) => r.outcome === 'possible').map((r) => r.id) } };
};
const BEFORE = run({ 'write-etc': 'possible', 'read-shadow': 'possible', 'load-module': 'blocked', 'connect-out': 'skipped' }, 'before');
const AFTER = run({ 'write-etc': 'blocked', 'read-shadow': 'possible', 'load-module': 'blocked', 'connect-out': 'skipped' }, 'after');

describe('tune --audit', () => {
  it('says what the tune closed and what is still possible, and copes with a missing run', () => {
    expect(tuneAudit(BEFORE, AFTER)).toEqual({ before: { blocked: 1, applicable: 3 }, after: { blocked: 2, applicable: 3 }, closed: ['write-etc'], opened: [], stillPossible: ['read-shadow'] });
    expect(tuneAudit(undefined, AFTER)).toEqual({ after: { blocked: 2, applicable: 3 }, closed: [], opened: [], stillPossible: ['read-shadow'] });
    const text = formatTuneReport({ unit: 'x.service', exposureBefore: 9, exposureAfter: 2, trials: 1, restarts: 1, durationMs: 1, complete: true, accepted: [], rejected: [], skipped: [], warnings: [], audit: tuneAudit(BEFORE, AFTER) } as TuneReport);
    expect(text).toMatch(/attack battery: blocked 1\/3 → 2\/3; closed write-etc\n {2}still possible: read-shadow/);
  });

  it("journals both runs and the report document puts them in the tune's section", () => {
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    const records = [
      { ...BEFORE.record, t: t(0), unit: 'x.service' },
      { kind: 'tune-begin', t: t(1), unit: 'x.service', strategy: 'adaptive', probes: [], exposure: 9 },
      { kind: 'tune-end', t: t(2), unit: 'x.service', exposureBefore: 9, exposureAfter: 2, trials: 0, restarts: 0, durationMs: 1 },
      { ...AFTER.record, t: t(3), unit: 'x.service' },
    ] as JournalRecord[];
    expect(formatRecord(records[0]!)).toMatch(/audit +before: blocked 1\/3; still possible: write-etc read-shadow/);
    const doc = buildReport('x.service', records, []);
    expect(doc.tunes).toHaveLength(1);
    expect(doc.tunes[0]!.audit).toEqual({ before: '1/3', after: '2/3', stillPossible: ['read-shadow'] });
    expect(doc.guard).toEqual([]);
  });
});
