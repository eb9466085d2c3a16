// The audit's wiring: systemd, and the battery as installed beside this build
// (dist/audit/autoharden-battery, built by scripts/build-battery.sh).
import { fileURLToPath } from 'node:url';
import { runAuditUnit, type AuditRun } from '../adapters/auditUnit.js';
import { Systemd } from '../adapters/systemd.js';
import { ERR } from '../core/errors.js';

export const BATTERY = fileURLToPath(new URL('../audit/autoharden-battery', import.meta.url));

/** The battery in a transient unit carrying `unit`'s execution context. Throws UnitUnknown for a
 * unit systemd does not know or could not load, before anything is created. */
export async function auditUnit(unit: string, o: { peer?: string; signal?: AbortSignal } = {}): Promise<AuditRun & { unit: string }> {
  const systemd = await Systemd.connect();
  try {
    const info = await systemd.unitInfo(unit);
    if (info.loadState !== 'loaded') throw new ERR.NotLoaded(unit, info.loadState);
    const id = info.id ?? unit; // an alias resolves to the unit itself
    return { ...(await runAuditUnit(systemd, id, { battery: BATTERY, ...o })), unit: id };
  } finally {
    systemd.close();
  }
}
