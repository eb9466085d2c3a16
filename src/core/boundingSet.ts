// CapabilityBoundingSet: its ladder and how an accepted set is minimised. Only `~` lines, which
// clear bits whatever came before (a plain line ORs). Pure.
import {
  ALL_CAPS_MASK,
  CAPABILITIES,
  CAP_SCORE_WEIGHT,
  capExposure,
  capsFromMask,
  capsSubset,
  knownCaps,
  maskFromCaps,
  type CapabilityName,
} from './capabilities.js';
import type { CatalogRung, Decision, EffectiveSettings, EffectiveValue, Rung, SafetyFacts, Setting } from './types.js';


/** The bounding set in force; an unreadable value (absent, or a lossy 64-bit Number) counts as all. */
function boundingSet(eff: EffectiveSettings): number {
  const v = eff.CapabilityBoundingSet;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? knownCaps(v) : ALL_CAPS_MASK;
}

function capsRung(value: string, keep: readonly CapabilityName[]): CatalogRung {
  const keepMask = maskFromCaps(keep);
  const drop = CAPABILITIES.filter((c) => !keep.includes(c));
  return {
    value,
    lines: [`CapabilityBoundingSet=~${drop.join(' ')}`],
    residual: capExposure(keepMask) / CAP_SCORE_WEIGHT,
    inForce: (eff) => capsSubset(boundingSet(eff), keepMask),
  };
}

const DAEMON_CAPS: CapabilityName[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_RESOURCE', 'CAP_IPC_LOCK',
  'CAP_SYS_CHROOT', 'CAP_SYS_NICE', 'CAP_NET_RAW', 'CAP_AUDIT_WRITE',
];
const ADMIN_CAPS: CapabilityName[] = [
  'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_TIME', 'CAP_SYS_BOOT',
  'CAP_MAC_ADMIN', 'CAP_MAC_OVERRIDE', 'CAP_AUDIT_CONTROL', 'CAP_AUDIT_READ', 'CAP_SYSLOG',
  'CAP_LINUX_IMMUTABLE', 'CAP_MKNOD', 'CAP_NET_ADMIN', 'CAP_BPF', 'CAP_PERFMON', 'CAP_CHECKPOINT_RESTORE',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_SYS_PACCT', 'CAP_SYS_TTY_CONFIG', 'CAP_LEASE',
];

/** CapabilityBoundingSet's ladder, strongest first. */
export const CAPS_LADDER: CatalogRung[] = [
  capsRung('empty', []),
  capsRung('daemon', DAEMON_CAPS),
  capsRung('no-admin', CAPABILITIES.filter((c) => !ADMIN_CAPS.includes(c))),
];

// Capabilities few daemons need once they run: tried together first.
export const LIKELY_FREE_CAPS = [
  'CAP_FSETID', 'CAP_SETPCAP', 'CAP_SYS_CHROOT', 'CAP_SYS_NICE', 'CAP_IPC_LOCK', 'CAP_NET_RAW', 'CAP_AUDIT_WRITE',
  'CAP_SYS_RESOURCE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_KILL', 'CAP_LEASE', 'CAP_NET_BROADCAST',
];

function capMask(v: EffectiveValue | undefined): number {
  return typeof v === 'number' ? v : ALL_CAPS_MASK;
}

/** Capabilities still in the bounding set, as items to remove. */
export function capabilityItems(eff: EffectiveSettings): string[] {
  return capsFromMask(capMask(eff.CapabilityBoundingSet));
}

/** The mask of these capabilities, or undefined when one is unknown (a tampered journal). */
function knownMask(caps: readonly string[]): number | undefined {
  try {
    return maskFromCaps(caps);
  } catch {
    return undefined;
  }
}

/** A minimised set in force: the bounding set holds none but the kept capabilities. */
export function keptCapsInForce(keep: readonly string[], eff: EffectiveSettings): boolean {
  const keepMask = knownMask(keep);
  return keepMask !== undefined && (capMask(eff.CapabilityBoundingSet) & ~keepMask) === 0;
}

/** The strongest rung of the ladder a bounding set of just these capabilities is at. */
export function capsRungFor(keep: readonly string[]): string | undefined {
  const mask = knownMask(keep);
  return mask === undefined ? undefined : CAPS_LADDER.find((r) => r.inForce({ CapabilityBoundingSet: mask }))?.value;
}

/** The bounding set without `removed`: only `~` lines, so it never adds a capability. Its items
 * are the capabilities it keeps; keeping none is the ladder's `empty`. */
export function capabilityStep(eff: EffectiveSettings, removed: readonly string[]): Setting {
  const keep = capabilityItems(eff).filter((c) => !removed.includes(c));
  const drop = CAPABILITIES.filter((c) => !keep.includes(c));
  const lines = [`CapabilityBoundingSet=~${drop.join(' ')}`];
  if (keep.length === 0) return { option: 'CapabilityBoundingSet', value: 'empty', lines };
  const rung = capsRungFor(keep);
  return { option: 'CapabilityBoundingSet', value: `keep ${keep.map((c) => c.slice(4)).join(' ')}`, lines, ...(rung !== undefined ? { rung } : {}), items: keep };
}

/** The rung observation predicts (core/capsObserved.ts): the bounding set cut down to what the
 * running unit was seen to need. Its items are the capabilities it keeps; its rung is `observed`
 * (what learned priors count it under: another unit tries its own observed set). */
export function observedCapsRung(keep: readonly CapabilityName[]): Rung {
  const r = capsRung(`keep ${keep.map((c) => c.slice(4)).join(' ')}`, keep);
  return { ...r, rung: 'observed', items: [...keep] };
}

/** With a prediction, the ladder tried is the predicted set, then the weaker rungs that keep all
 * of it; rungs that drop a needed capability (`empty`) are left out, with the reason. */
export function admitCaps(rungs: Rung[], f: SafetyFacts, eff: EffectiveSettings = {}): Decision {
  const held = capabilityItems(eff);
  // a needed capability the bounding set lacks already was not needed after all: not kept
  const keep = CAPABILITIES.filter((c) => held.includes(c) && (f.capsNeeded ?? []).some((n) => n.cap === c));
  if (keep.length === 0) return { rungs };
  const keepMask = maskFromCaps(keep);
  const keeps = (r: Rung) => r.inForce({ CapabilityBoundingSet: keepMask });
  const why = `the running unit needs ${(f.capsNeeded ?? []).filter((n) => keep.includes(n.cap as CapabilityName)).map((n) => `${n.cap.slice(4)} (${n.why})`).join(', ')}`;
  const dropped = rungs.filter((r) => !keeps(r)).map((r) => ({ value: r.value, reason: `${r.value} not tried: ${why}` }));
  const weaker = rungs.filter(keeps);
  const observed = observedCapsRung(keep);
  if (observed.inForce(eff)) return { skip: `the bounding set keeps no more than observation says it needs: ${why}` };
  return { rungs: [observed, ...weaker], dropped };
}
