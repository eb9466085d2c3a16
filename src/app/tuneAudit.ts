// tune --audit: the attack battery (core/audit.ts) before and after a tune, journaled, and what
// moved. A battery that cannot run or answers incompletely is said, never fails the tune.
import { compareAudits, summarise, type AuditSummary } from '../core/audit.js';
import type { NewRecord } from '../core/journal.js';
import type { TuneAudit } from '../core/report.js';
import { audit } from './audit.js';

export interface BatteryRun {
  summary: AuditSummary;
  /** Where the score and the battery disagree, as lines (bounded as the journal takes them). */
  disagree?: string[];
  record: NewRecord;
}

/** At most 64 lines of at most 600 characters, as the journal's audit record holds them. */
export const disagreeLines = (lines: readonly string[]): string[] => lines.slice(0, 64).map((l) => (l.length > 600 ? `${l.slice(0, 599)}…` : l));

export async function runBattery(unit: string, when: 'before' | 'after', warn: (m: string) => void): Promise<BatteryRun | undefined> {
  try {
    const r = await audit({ unit, peer: undefined });
    if (!r.complete) {
      warn(`the attack battery ${when} tuning is incomplete (${r.problems[0] ?? 'unknown'}): not counted`);
      return undefined;
    }
    const summary = summarise(r.results);
    const possible = r.results.filter((x) => x.outcome === 'possible').map((x) => x.id);
    const disagree = disagreeLines(r.disagreements.map((d) => d.line));
    return { summary, disagree, record: { kind: 'audit', when, blocked: summary.blocked, applicable: summary.applicable, possible, ...(disagree.length ? { disagree } : {}) } };
  } catch (e) {
    warn(`the attack battery could not run ${when} tuning: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

/** What the report says of the two runs (either may be missing). */
export function tuneAudit(before: BatteryRun | undefined, after: BatteryRun | undefined): TuneAudit {
  const side = (b: BatteryRun | undefined) => (b ? { blocked: b.summary.blocked, applicable: b.summary.applicable } : undefined);
  const cmp = before && after ? compareAudits(before.summary, after.summary) : undefined;
  const stillPossible = after ? Object.values(after.summary.byId).filter((r) => r.outcome === 'possible').map((r) => r.id) : [];
  return {
    ...(side(before) ? { before: side(before)! } : {}),
    ...(side(after) ? { after: side(after)! } : {}),
    closed: cmp?.closed ?? [],
    opened: cmp?.opened ?? [],
    stillPossible,
    ...(after?.disagree?.length ? { disagree: after.disagree } : {}),
  };
}
