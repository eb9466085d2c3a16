// Whether this systemd enforces the settings it reports either way (SocketBindDeny=,
// RestrictFileSystems=, RestrictNetworkInterfaces=): one throwaway oneshot unit of autoharden's own
// per setting (core/enforcementCheck.ts), run once per process, only where the
// platform meets the setting's other needs. The exit status systemd records is the evidence; the
// tuned service is not involved. The unit files are removed again however the checks end.
import { ENFORCEMENT_CHECKS, enforcementFrom, renderEnforcementUnit, type Enforcement, type EnforcementCheck } from '../core/enforcementCheck.js';
import { meets } from '../core/needs.js';
import type { Platform } from '../core/platform.js';
import { CHECK_UNIT_PREFIX } from '../core/sandboxCheck.js';
import type { SystemdPort } from '../engine/ports.js';
import type { UnitFilePort } from '../engine/sandboxCheck.js';

const CHECK_TIMEOUT_MS = 30_000;

/** Per process (and per PID, so two autoharden processes never share a unit name). */
const unitName = (c: EnforcementCheck) => `${CHECK_UNIT_PREFIX}bpf-${c.key.toLowerCase()}-${process.pid}.service`;

async function runChecks(systemd: SystemdPort, files: UnitFilePort, checks: readonly EnforcementCheck[], node: string): Promise<Map<string, Enforcement>> {
  const out = new Map<string, Enforcement>();
  const written: string[] = [];
  try {
    for (const c of checks) {
      try {
        files.write(unitName(c), renderEnforcementUnit(c, node));
        written.push(unitName(c));
      } catch (e) {
        out.set(c.key, { enforced: false, checked: `the check could not be written: ${(e as Error).message}` });
      }
    }
    if (!written.length) return out;
    await systemd.reload();
    for (const c of checks.filter((x) => written.includes(unitName(x)))) {
      const name = unitName(c);
      try {
        await systemd.resetFailed(name).catch(() => undefined);
        const job = await systemd.restart(name, CHECK_TIMEOUT_MS);
        out.set(c.key, enforcementFrom(c, job, await systemd.snapshot(name)));
      } catch (e) {
        out.set(c.key, { enforced: false, checked: `the check unit could not be run: ${(e as Error).message.split('\n')[0]}` });
      }
    }
    return out;
  } finally {
    for (const name of written) {
      try {
        files.remove(name);
      } catch {
        /* left for the next run's write to replace: it is ours (marker) */
      }
      await systemd.resetFailed(name).catch(() => undefined);
    }
    if (written.length) await systemd.reload().catch(() => undefined);
  }
}

let cached: { key: string; result: Promise<Map<string, Enforcement>> } | undefined;

/** The checks this platform can run, run once per process (the same platform facts ask again
 * for the cached answer). */
export function checkEnforcement(systemd: SystemdPort, files: UnitFilePort, p: Platform, node = process.execPath): Promise<Map<string, Enforcement>> {
  const checks = ENFORCEMENT_CHECKS.filter((c) => meets(c.needs, p));
  const key = checks.map((c) => c.key).join(',');
  if (!cached || cached.key !== key) {
    cached = { key, result: checks.length ? runChecks(systemd, files, checks, node) : Promise.resolve(new Map()) };
  }
  return cached.result;
}

/** The platform with what the checks showed. */
export async function withEnforcement(p: Platform, systemd: SystemdPort, files: UnitFilePort): Promise<Platform> {
  return { ...p, enforcement: await checkEnforcement(systemd, files, p) };
}

/** For tests: forget the cached result. */
export function forgetEnforcement(): void {
  cached = undefined;
}
