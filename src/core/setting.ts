// Whether the effective settings read back over D-Bus show a setting in force, from its structure
// (rung, learned paths, items) and its option's catalog entry. Pure: settings are plain data.
import { CATALOG } from './catalog.js';
import type { EffectiveSettings, OptionSpec, Setting } from './types.js';

/** The ladder value a setting applies. */
export function rungOf(s: Setting): string {
  return s.rung ?? s.value;
}

/** Every learned directory is among ReadWritePaths in force (systemd keeps the `-` and `+`
 * prefixes in the property; an unread property shows none). */
export function pathsInForce(paths: readonly string[], eff: EffectiveSettings): boolean {
  if (paths.length === 0) return true;
  const v = eff.ReadWritePaths;
  const have = new Set(Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string').map((p) => p.replace(/^[-+]+/, '')) : []);
  return paths.every((p) => have.has(p));
}

/** True when `eff` shows the setting in force: its items by its entry's own check, otherwise its
 * rung of the ladder; and its learned paths writable. Unknown options and rungs are not. */
export function inForce(s: Setting, eff: EffectiveSettings, catalog: readonly OptionSpec[] = CATALOG): boolean {
  const spec = catalog.find((o) => o.name === s.option);
  if (!spec) return false;
  const held = s.items !== undefined
    ? (spec.itemsInForce?.(s.items, eff) ?? false)
    : (spec.ladder.find((r) => r.value === rungOf(s))?.inForce(eff) ?? false);
  return held && pathsInForce(s.paths ?? [], eff);
}
