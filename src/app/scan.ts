// scan: every service systemd has loaded, its exposure now, what a tune is predicted to reach (plan,
// no restarts) and what autoharden did with it; ranked worst first. In this process, read-only.
import { z } from 'zod';
import { ignoreMatcher, type ScanAudit, type ScanRow, type ScanState } from '../core/scan.js';
import { Interrupted } from '../core/errors.js';
import type { ProgressEvent } from '../engine/ports.js';
import type { Stop } from './app.js';
import type { AuditReport } from './audit.js';
import { schemaParser, type UseCase } from './useCase.js';

export type { ScanAudit, ScanRow, ScanState } from '../core/scan.js';

const schema = z.object({
  threshold: z.number().min(0).max(10).optional(),
  /** unit names or globs; validated here, matched in core/scan.ts */
  ignore: z.array(z.string()).default([]).transform((p) => (ignoreMatcher(p), p)),
  /** Run the attack battery (`audit`) for each running unit, one after another. */
  audit: z.boolean().default(false),
});
export type ScanRequest = z.output<typeof schema>;

export interface ScanReport {
  units: ScanRow[];
  threshold?: number;
  /** Units above the threshold, neither ignored nor protected: the gate fails on these. */
  over: string[];
}

export const SCAN: UseCase<'scan', ScanRequest, ScanReport> = {
  name: 'scan',
  parse: schemaParser(schema),
};

/** autoharden's own units: the daemon and the throwaway check and audit units it runs. */
const OWN = /^(autoharden\.service|zz-autoharden-.*|autoharden-audit-.*\.service)$/;

/** `statuses`: what `status` says of the units autoharden knows (the daemon's when it runs). */
export async function scan(
  req: ScanRequest,
  o: { stateDir: string; progress: (e: ProgressEvent) => void; statuses: ReadonlyArray<{ unit: string; state: ScanState }>; stop?: Stop },
): Promise<ScanReport> {
  const { requireRoot } = await import('./local.js');
  requireRoot();
  const [pv, { protectedUnitReason }, { predictExposure }, scanCore, { hostFacts, previewUnit }, { NO_DECLARATIONS }] = await Promise.all([
    import('../compose/preview.js'), import('../core/protectedUnits.js'), import('../core/preview.js'), import('../core/scan.js'), import('./plan.js'), import('../core/policy.js'),
  ]);
  const listing = await pv.exposureListing();
  o.progress({ type: 'info', message: `scanning ${listing.length} services (reads only: nothing is restarted)` });
  const ignored = ignoreMatcher(req.ignore);
  const states = new Map(o.statuses.map((s) => [s.unit, s.state]));
  const systemd = await pv.Systemd.connect();
  try {
    let host: Awaited<ReturnType<typeof hostFacts>> | undefined;
    const rows: ScanRow[] = [];
    for (const { unit, exposure } of listing) {
      if (OWN.test(unit)) continue;
      const row: ScanRow = { unit, exposure, predicted: null, best: null, state: states.get(unit) ?? 'never-tuned', active: 'unknown' };
      if (ignored(unit)) row.ignored = true;
      try {
        const info = await systemd.unitInfo(unit);
        if ((info.names ?? []).some((n) => OWN.test(n)) || OWN.test(info.id ?? '')) continue;
        row.active = info.activeState;
        const why = protectedUnitReason([unit, info.id ?? unit, ...(info.names ?? [])]);
        if (why) {
          row.protected = why;
          row.note = 'protected: never tuned by autoharden';
        } else if (info.activeState !== 'active') {
          row.note = `not running (${info.activeState}): no prediction without observing it`;
        } else {
          host ??= await hostFacts(systemd, unit, { stateDir: o.stateDir, warn: (m) => o.progress({ type: 'info', message: `WARNING: ${m}` }) });
          const u = await previewUnit(systemd, unit, host, { stateDir: o.stateDir, declarations: NO_DECLARATIONS });
          const p = predictExposure(u.rows, u.candidates, u.facts);
          if (p) {
            row.predicted = p.expected;
            row.best = p.best;
          } else row.note = "systemd-analyze's checks could not be read: no prediction";
        }
      } catch (e) {
        row.note = `no prediction: ${(e as Error).message.split('\n')[0]}`;
      }
      rows.push(row);
    }
    if (req.audit) await auditRows(rows, o);
    const units = scanCore.rankScan(rows);
    const over = req.threshold === undefined ? [] : scanCore.overThreshold(units, req.threshold).map((r) => r.unit);
    return { units, ...(req.threshold !== undefined ? { threshold: req.threshold } : {}), over };
  } finally {
    systemd.close();
  }
}

/** scan --audit: the battery for each row in turn (each run bounded as `audit`'s is), a reason
 * where there is none. A signal stops the running audit unit and the scan. */
async function auditRows(rows: ScanRow[], o: { progress: (e: ProgressEvent) => void; stop?: Stop }): Promise<void> {
  const [{ audit }, { auditable, AUDIT_NEEDS_CARRIED }] = await Promise.all([import('./audit.js'), import('../core/scan.js')]);
  const todo = rows.filter((r) => {
    const why = auditable(r.unit, r.active);
    if (why) r.audit = { reason: why };
    return !why;
  });
  for (const [i, row] of todo.entries()) {
    const sig = o.stop?.received();
    if (sig) throw new Interrupted(sig, `interrupted by ${sig}; ${todo.length - i} units not audited`);
    o.progress({ type: 'info', message: `auditing ${row.unit} (${i + 1}/${todo.length})` });
    row.audit = await auditOne(row.unit, (u) => audit({ unit: u, peer: undefined }, o.stop ? () => o.stop! : undefined, { compare: false, refuseUncarried: AUDIT_NEEDS_CARRIED }));
  }
}

/** One unit's counts; any failure but an interruption is the unit's reason, not the scan's. */
export async function auditOne(unit: string, run: (unit: string) => Promise<AuditReport>): Promise<ScanAudit> {
  try {
    const r = await run(unit);
    if (!r.complete) return { reason: `incomplete: ${r.problems[0] ?? 'unknown'}` };
    return { blocked: r.summary.blocked, applicable: r.summary.applicable, possible: r.results.filter((x) => x.outcome === 'possible').map((x) => x.id) };
  } catch (e) {
    if (e instanceof Interrupted) throw e;
    return { reason: (e as Error).message.split('\n')[0] ?? 'failed' };
  }
}
