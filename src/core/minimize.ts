// Set-valued options are minimised, not toggled: once a rung of one is accepted (its catalog entry
// has `minimise`), try removing what it still allows, item by item (one-at-a-time) or by group
// testing (adaptive). Pure.
import { CATALOG } from './catalog.js';
import type { EffectiveSettings, OptionSpec, SafetyFacts, Setting } from './types.js';

export { LIKELY_FREE_CAPS, capabilityItems, capabilityStep } from './boundingSet.js';
export { SYSCALL_MINIMIZE_GROUPS, syscallItems, syscallStep } from './syscallFilter.js';
export type { Rung } from './types.js';

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

/** One accepted setting to shrink: the search over its items, and how a step is built (a
 * setting carrying items: core/setting.ts inForce checks it). */
export interface MinimisationPlan {
  m: Minimizer;
  make(removed: readonly string[]): Setting;
}

/** A plan per accepted setting whose entry is minimised and that still allows something, in
 * catalog order. `eff` is read once, before the first step: every step is built against it. */
export function minimisationPlans(
  accepted: readonly Setting[],
  eff: EffectiveSettings,
  facts: SafetyFacts | undefined,
  strategy: 'one-at-a-time' | 'adaptive',
  catalog: readonly OptionSpec[] = CATALOG,
): MinimisationPlan[] {
  const plans: MinimisationPlan[] = [];
  for (const spec of catalog) {
    const how = spec.minimise;
    const setting = how && accepted.find((a) => a.option === spec.name);
    if (!how || !setting) continue;
    // what observation says the unit needs stays, untried (an accepted predicted set: all of it)
    const needed = new Set(how.needed?.(facts) ?? []);
    const items = how.items(eff, setting).filter((i) => !needed.has(i));
    if (items.length === 0) continue;
    plans.push({ m: new Minimizer(items, strategy, how.likelyFree?.(facts) ?? []), make: (removed) => how.step(eff, setting, removed) });
  }
  return plans;
}
