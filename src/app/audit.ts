// audit: the attack battery run inside a unit's own sandbox (in this process, never through the
// daemon): which techniques an attacker who took over the service could still use.
import { z } from 'zod';
import { batteryArgs, parseBatteryOutput, summarise, techniqueById, type TechniqueResult } from '../core/audit.js';
import { disagreements, type Disagreement } from '../core/auditDisagree.js';
import { AutohardenError, Interrupted } from '../core/errors.js';
import { parseUnitName } from '../core/unitName.js';
import type { SkippedProperty } from '../adapters/auditProperties.js';
import type { AuditRun } from '../adapters/auditUnit.js';
import type { AnalyzeRows } from '../core/analyzeRows.js';
import type { EffectiveSettings } from '../core/types.js';
import type { Stop } from './app.js';
import { requireRoot } from './local.js';
import { schemaParser, type UseCase } from './useCase.js';

const schema = z.object({
  unit: z.string().transform((u) => parseUnitName(u, { serviceOnly: true })),
  // checked as the battery checks it (a numeric IPV4:PORT or [IPV6]:PORT): it refuses the run otherwise
  peer: z.string().optional().transform((p) => (p === undefined ? undefined : (batteryArgs({ peer: p }), p))),
});
export type AuditRequest = z.output<typeof schema>;

export const AUDIT: UseCase<'audit', AuditRequest, AuditReport> = {
  name: 'audit',
  parse: schemaParser(schema),
};

export interface AuditReport {
  unit: string;
  /** The transient unit the battery ran in (gone when the command returns). */
  auditUnit: string;
  /** Per technique, in battery order: id, what it is, and what the battery found. */
  techniques: Array<{ id: string; description: string; result: TechniqueResult['outcome']; detail: string }>;
  results: TechniqueResult[];
  summary: { blocked: number; possible: number; skipped: number; error: number; total: number; applicable: number };
  /** The battery reported every technique and its done line. */
  complete: boolean;
  /** What was wrong with the run or its output. */
  problems: string[];
  /** The unit's settings the audit unit could not carry, and why: results may differ there. */
  skippedProperties: SkippedProperty[];
  /** Where the score and the battery disagree (core/auditDisagree.ts): a technique possible
   * although a setting that should block it is in force, one blocked by nothing the score counts. */
  disagreements: Disagreement[];
  /** Why they were not compared (the unit's settings or the score's checks unreadable). */
  notCompared?: string;
}

/** The report of one run: the battery's output read defensively (core/audit.ts). */
export function auditReport(run: AuditRun & { unit: string; settings?: EffectiveSettings; rows?: AnalyzeRows }): AuditReport {
  const parsed = parseBatteryOutput(run.output);
  const problems = [...parsed.problems];
  if (run.truncated) problems.unshift('the output was cut at its size bound');
  if (run.jobResult !== 'done') problems.unshift(`the audit unit's start job ended "${run.jobResult}" (journalctl -u ${run.auditUnit})`);
  const { byId: _byId, ...summary } = summarise(parsed.results);
  const cmp = disagreements(parsed.results, run.settings, run.rows, run.skipped.map((p) => p.name));
  return {
    unit: run.unit,
    auditUnit: run.auditUnit,
    techniques: parsed.results.map((r) => ({ id: r.id, description: techniqueById(r.id)?.title ?? r.id, result: r.outcome, detail: r.detail })),
    results: parsed.results,
    summary,
    complete: parsed.complete && run.jobResult === 'done' && !run.truncated,
    problems,
    skippedProperties: run.skipped,
    disagreements: cmp.disagreements,
    ...(cmp.unknown ? { notCompared: cmp.unknown } : {}),
  };
}

/** `compare: false` skips reading the settings and the score's checks (scan --audit counts only);
 * `refuseUncarried`: adapters/auditUnit.ts. */
export async function audit(req: AuditRequest, stopper?: () => Stop, o: { compare?: boolean; refuseUncarried?: readonly string[] } = {}): Promise<AuditReport> {
  requireRoot();
  const [{ auditUnit }, { AuditAborted }] = await Promise.all([import('../compose/audit.js'), import('../adapters/auditUnit.js')]);
  const stop = stopper?.();
  try {
    return auditReport(await auditUnit(req.unit, { ...(req.peer ? { peer: req.peer } : {}), ...(stop ? { signal: stop.signal } : {}), ...o }));
  } catch (e) {
    const sig = stop?.received();
    if (e instanceof AuditAborted && sig) throw new Interrupted(sig, `interrupted by ${sig}; the audit unit was stopped`);
    throw e;
  }
}

/** The run did not give a full answer: said after the report is printed. */
export function incompleteError(r: AuditReport): AutohardenError | undefined {
  return r.complete ? undefined : new AutohardenError('Failed', `the audit of ${r.unit} is incomplete: ${r.problems[0] ?? 'unknown'}`);
}
