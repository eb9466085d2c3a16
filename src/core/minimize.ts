// Set-valued options are minimised, not toggled: once a rung of CapabilityBoundingSet or
// SystemCallFilter is accepted, try removing what it still allows, item by item (one-at-a-time)
// or by group testing (adaptive). Pure.
import { maskFromCaps, capsFromMask, ALL_CAPS_MASK, CAPABILITIES } from './capabilities.js';
import { SYSCALL_GROUPS } from './catalog.js';
import type { EffectiveSettings, EffectiveValue, Rung, Setting } from './types.js';

/** Finds which items can be removed; the trial of a step removes `removed() + next()`. */
export class Minimizer {
  private readonly queue: string[][];
  private readonly gone: string[] = [];
  private readonly needed: string[] = [];
  private pending: string[] | undefined;

  /** `likelyFree` items are tried together first (adaptive); the rest one at a time. */
  constructor(items: readonly string[], strategy: 'one-at-a-time' | 'adaptive', likelyFree: readonly string[] = []) {
    if (strategy === 'one-at-a-time') {
      this.queue = items.map((i) => [i]);
    } else {
      const free = items.filter((i) => likelyFree.includes(i));
      const rest = items.filter((i) => !likelyFree.includes(i));
      this.queue = [...(free.length ? [free] : []), ...rest.map((i) => [i])];
    }
  }

  next(): string[] | undefined {
    if (this.pending) throw new Error('report() the last trial before asking for the next');
    this.pending = this.queue.shift();
    return this.pending;
  }

  report(ok: boolean): void {
    const g = this.pending;
    if (!g) throw new Error('no trial pending');
    this.pending = undefined;
    if (ok) this.gone.push(...g);
    else if (g.length === 1) this.needed.push(g[0]!);
    else {
      // binary splitting: the group holds at least one needed item
      const half = Math.ceil(g.length / 2);
      this.queue.unshift(g.slice(0, half), g.slice(half));
    }
  }

  removed(): string[] {
    return [...this.gone];
  }

  kept(): string[] {
    return [...this.needed];
  }
}

/** A dynamic rung: a value the catalog's ladder does not list, with its own check. */
export interface MinimizeStep {
  setting: Setting;
  inForce(eff: EffectiveSettings): boolean;
}

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

/** The bounding set without `removed`: only `~` lines, so it never adds a capability. */
export function capabilityStep(eff: EffectiveSettings, removed: readonly string[]): MinimizeStep {
  const keep = capabilityItems(eff).filter((c) => !removed.includes(c));
  const drop = CAPABILITIES.filter((c) => !keep.includes(c));
  const keepMask = maskFromCaps(keep);
  return {
    setting: {
      option: 'CapabilityBoundingSet',
      value: keep.length ? `keep ${keep.map((c) => c.slice(4)).join(' ')}` : 'empty',
      lines: [`CapabilityBoundingSet=~${drop.join(' ')}`],
    },
    inForce: (e) => (capMask(e.CapabilityBoundingSet) & ~keepMask) === 0,
  };
}

/** Scored system call groups the filter still allows (judged like systemd-analyze: a group counts
 * as allowed while any of its calls is). */
export const SYSCALL_MINIMIZE_GROUPS = ['@resources', '@privileged'];

function allowed(v: EffectiveValue | undefined, call: string): boolean {
  if (!v || typeof v !== 'object' || Array.isArray(v) || !('allow' in v)) return true;
  const names = new Set(v.items.map((s) => s.split(':')[0]));
  return v.allow ? names.has(call) : !names.has(call);
}

const callsOf = (group: string) => SYSCALL_GROUPS[group.replace(/^@/, '')] ?? [];

export function syscallItems(eff: EffectiveSettings): string[] {
  return SYSCALL_MINIMIZE_GROUPS.filter((g) => callsOf(g).some((c) => allowed(eff.SystemCallFilter, c)));
}

/** Removes groups from the filter in force: a `~` line narrows an allow list and widens a deny
 * list, so it only ever tightens. */
export function syscallStep(base: Setting, removed: readonly string[]): MinimizeStep {
  const calls = removed.flatMap(callsOf);
  return {
    setting: {
      option: 'SystemCallFilter',
      value: `${base.value} ~${removed.join(' ')}`.replace(' ~~', ' ~'),
      lines: [...base.lines, `SystemCallFilter=~${removed.join(' ')}`],
    },
    inForce: (e) => calls.every((c) => !allowed(e.SystemCallFilter, c)),
  };
}

export type { Rung };
