// The audit's wiring: systemd, and the battery as installed beside this build
// (dist/audit/autoharden-battery, built by scripts/build-battery.sh; the .deb ships it at
// /usr/lib/autoharden/dist/audit/autoharden-battery, the same place relative to this file).
import { fileURLToPath } from 'node:url';
import { exposureRows } from '../adapters/analyze.js';
import { runAuditUnit, type AuditRun } from '../adapters/auditUnit.js';
import { Systemd } from '../adapters/systemd.js';
import type { AnalyzeRows } from '../core/analyzeRows.js';
import { DISAGREE_PROPERTIES } from '../core/auditDisagree.js';
import { ERR } from '../core/errors.js';
import type { EffectiveSettings } from '../core/types.js';

export const BATTERY = fileURLToPath(new URL('../audit/autoharden-battery', import.meta.url));

export interface AuditOutcomeRun extends AuditRun {
  unit: string;
  /** What the score is compared with (absent when not asked for, or unreadable). */
  settings?: EffectiveSettings;
  rows?: AnalyzeRows;
}

/** The battery in a transient unit carrying `unit`'s execution context, and (unless `compare` is
 * false) the unit's settings and systemd-analyze's checks to compare its results with. Throws
 * UnitUnknown for a unit systemd does not know or could not load, before anything is created. */
export async function auditUnit(
  unit: string,
  o: { peer?: string; signal?: AbortSignal; compare?: boolean; refuseUncarried?: readonly string[] } = {},
): Promise<AuditOutcomeRun> {
  const systemd = await Systemd.connect();
  try {
    const info = await systemd.unitInfo(unit);
    if (info.loadState !== 'loaded') throw new ERR.NotLoaded(unit, info.loadState);
    const id = info.id ?? unit; // an alias resolves to the unit itself
    const { compare = true, ...run } = o;
    const result = { ...(await runAuditUnit(systemd, id, { battery: BATTERY, ...run })), unit: id };
    if (!compare) return result;
    // read after the run: the settings the battery ran under (a reload meanwhile is the admin's)
    const [settings, rows] = await Promise.all([
      systemd.serviceProperties(id, [...DISAGREE_PROPERTIES]).catch(() => undefined),
      exposureRows(id).catch(() => undefined),
    ]);
    return { ...result, ...(settings ? { settings } : {}), ...(rows ? { rows } : {}) };
  } finally {
    systemd.close();
  }
}
