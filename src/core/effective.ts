// Reading the effective values systemd reports over D-Bus, shared by the catalog's entries. Pure.
import type { EffectiveSettings, EffectiveValue } from './types.js';

export function str(eff: EffectiveSettings, key: string): string | undefined {
  const v = eff[key];
  return typeof v === 'string' ? v : undefined;
}

export interface ListValue {
  allow: boolean;
  /** Names without the ":EPERM"-style action suffix systemd appends. */
  items: Set<string>;
  /** Some entry carries such a suffix. */
  suffixed: boolean;
}

/** A (bas) list. Absent = no filter. */
export function listOf(v: EffectiveValue | undefined): ListValue {
  if (v && typeof v === 'object' && !Array.isArray(v) && typeof v.allow === 'boolean' && Array.isArray(v.items)) {
    return { allow: v.allow, items: new Set(v.items.map((s) => s.split(':')[0]!)), suffixed: v.items.some((s) => s.includes(':')) };
  }
  return { allow: false, items: new Set(), suffixed: false };
}

export const unrestricted = (l: ListValue) => !l.allow && l.items.size === 0;

export type IpEntry = { family: number; address: string; prefix: number };
export function ipList(eff: EffectiveSettings, key: string): IpEntry[] {
  const v = eff[key];
  return Array.isArray(v) ? v.filter((e): e is IpEntry => typeof e === 'object' && e !== null && 'family' in e) : [];
}

