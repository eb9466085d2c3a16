// Runs the trusted sandbox check: autoharden's own unit, /bin/true as the service's user under the
// given settings. Starting it restarts nothing of the service. The unit file is removed again and
// the unit's failed state reset, however the check ends.
import { IDENTITY_PROPERTIES, checkOutcome, checkUnitName, renderCheckUnit, type CheckOutcome } from '../core/sandboxCheck.js';
import type { Setting } from '../core/types.js';
import type { SystemdPort } from './ports.js';

/** Writes and removes autoharden's own whole unit files (adapters/unitFiles.ts). */
export interface UnitFilePort {
  write(name: string, text: string): void;
  remove(name: string): void;
}

const CHECK_TIMEOUT_MS = 30_000;

export async function checkSandbox(systemd: SystemdPort, files: UnitFilePort, unit: string, settings: readonly Setting[]): Promise<CheckOutcome> {
  const name = checkUnitName(unit);
  const identity = await systemd.serviceProperties(unit, IDENTITY_PROPERTIES);
  files.write(name, renderCheckUnit(unit, identity, settings));
  try {
    await systemd.reload();
    await systemd.resetFailed(name);
    const job = await systemd.restart(name, CHECK_TIMEOUT_MS);
    return checkOutcome(job, await systemd.snapshot(name));
  } finally {
    files.remove(name);
    await systemd.resetFailed(name).catch(() => undefined);
    await systemd.reload();
  }
}
