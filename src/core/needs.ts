// What a catalog entry (or one rung) needs from the running system, as data, and the reason a
// person reads when this system lacks it, written from the facts (core/platform.ts). Pure.
import { kernelAtLeast, type Platform } from './platform.js';

export interface Needs {
  /** Lowest systemd version. */
  systemd?: number;
  /** Build features that must be compiled in (Manager.Features `+X`). */
  features?: readonly string[];
  /** An LSM that must be active (/sys/kernel/security/lsm). */
  lsm?: string;
  /** Lowest kernel, major.minor. */
  kernel?: readonly [number, number];
  /** A Service property this systemd must have (a value it reports back). */
  property?: string;
  /** A setting systemd reports whether or not it enforces it: a check must have shown that it
   * does (Platform.enforcement, core/enforcementCheck.ts). */
  enforced?: string;
}

/** Names people know the build features by. */
const FEATURE_NAMES: Record<string, string> = { BPF_FRAMEWORK: 'the BPF framework', SECCOMP: 'seccomp', APPARMOR: 'AppArmor', SELINUX: 'SELinux' };

const kernelText = (k: readonly [number, number]) => `${k[0]}.${k[1]}`;

/** Why this system does not meet `needs`, or undefined when it does. Unknown facts count as unmet
 * (a setting this systemd may not know would be accepted and not enforced): the reason says so. */
export function unmetNeed(needs: Needs | undefined, p: Platform): string | undefined {
  if (!needs) return undefined;
  const v = p.systemdVersion;
  if (needs.systemd !== undefined && needs.systemd > v) return `needs systemd ${needs.systemd}+ (this is ${v})`;
  for (const f of needs.features ?? []) {
    if (!p.features) return `systemd ${v} did not report its build features, so ${f} cannot be confirmed`;
    if (!p.features.has(f)) return `systemd ${v} here is built without ${FEATURE_NAMES[f] ?? f} (-${f})`;
  }
  if (needs.kernel) {
    const ok = kernelAtLeast(p, needs.kernel);
    if (ok === undefined) return `the kernel version is unknown (needs ${kernelText(needs.kernel)}+)`;
    if (!ok) return `needs kernel ${kernelText(needs.kernel)}+ (this is ${kernelText(p.kernel!)})`;
  }
  if (needs.lsm) {
    if (!p.lsm) return `the LSM list is not visible (no securityfs), so the ${needs.lsm} LSM cannot be confirmed`;
    if (!p.lsm.includes(needs.lsm)) return `the kernel's active LSMs (${p.lsm.join(',')}) lack ${needs.lsm}`;
  }
  if (needs.property) {
    if (!p.serviceProperties) return `cannot tell whether systemd ${v} knows ${needs.property} (its Service interface was not read)`;
    if (!p.serviceProperties.has(needs.property)) return `systemd ${v} has no Service property ${needs.property}`;
  }
  if (needs.enforced) {
    const e = p.enforcement?.get(needs.enforced);
    if (!e) return `whether systemd ${v} enforces ${needs.enforced} here was not checked (it reports the setting either way)`;
    if (!e.enforced) return `systemd ${v} accepts ${needs.enforced} here but does not enforce it (checked: ${e.checked})`;
  }
  return undefined;
}

export const meets = (needs: Needs | undefined, p: Platform): boolean => unmetNeed(needs, p) === undefined;
