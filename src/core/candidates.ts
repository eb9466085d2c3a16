// Which options a tune may try on this unit, and which it leaves out and why. Pure.
import { renderRung, strongerRungs, unusableReason, usableOptions } from './catalog.js';
import { withWritablePaths } from './learn.js';
import { writableRoots, type WritableScope } from './paths.js';
import type { Candidate } from './plan.js';
import type { Platform } from './platform.js';
import { applySafetyPolicy, type Declarations, type SafetyFacts } from './policy.js';
import type { EffectiveSettings, OptionSpec, Setting } from './types.js';

export interface CandidateInput {
  catalog: readonly OptionSpec[];
  /** What the running systemd and kernel offer: which options, values and cost classes apply. */
  platform: Platform;
  /** Effective settings read back over D-Bus, accepted set included. */
  eff: EffectiveSettings;
  accepted: readonly Setting[];
  /** Options the user rolled back one by one: not retried. */
  rolledBack: ReadonlySet<string>;
  /** option=value pairs already rejected in this tune (a resumed tune does not retry them). */
  rejected: ReadonlySet<string>;
  facts: SafetyFacts;
  declarations: Declarations;
  /** Where the unit's own state may live: seeds outside it are dropped (none without it). */
  writableScope?: WritableScope;
}

export interface Skip {
  option: string;
  value: string;
  reason: string;
}

export function buildCandidates(i: CandidateInput): { candidates: Candidate[]; skipped: Skip[] } {
  const candidates: Candidate[] = [];
  const skipped: Skip[] = [];
  const usable = new Map(usableOptions(i.catalog, i.platform).map((c) => [c.name, c]));
  for (const full of i.catalog) {
    const skip = (value: string, reason: string) => skipped.push({ option: full.name, value, reason });
    // what this system lacks comes first: an entry not tried yet says so only where it could work
    const lacks = unusableReason(full, i.platform);
    if (full.explainOnly) {
      skip('', (full.needs && lacks) || full.explainOnly);
      continue;
    }
    const spec = usable.get(full.name);
    if (!spec) {
      skip('', lacks ?? `cannot be tried on systemd ${i.platform.systemdVersion}`);
      continue;
    }
    if (i.accepted.some((a) => a.option === spec.name)) continue; // accepted earlier, still in force
    if (i.rolledBack.has(spec.name)) {
      skip('', 'rolled back by the user; not retried until `rollback --all`');
      continue;
    }
    // Lines are rendered against the effective value so that they only tighten what the vendor
    // and admin set (list settings merge across drop-ins).
    const stronger = strongerRungs(spec, i.eff).filter((r) => !i.rejected.has(`${spec.name}=${r.value}`));
    const rungs = stronger.flatMap((r) => {
      const lines = renderRung(spec, r, i.eff);
      return lines ? [{ ...r, lines }] : [];
    });
    if (rungs.length === 0) {
      skip(spec.ladder[0]?.value ?? '', stronger.length === 0
        ? 'already in force (set by the vendor or admin), or every stronger value was rejected'
        : "cannot be written as a pure tightening of the vendor's value; left as it is");
      continue;
    }
    const decision = applySafetyPolicy(spec, rungs, i.facts, i.declarations, i.eff);
    if ('skip' in decision) {
      skip(rungs[0]?.value ?? '', `${spec.safety}: ${decision.skip}`);
      continue;
    }
    for (const d of decision.dropped ?? []) skip(d.value, d.reason);
    // a rung admit built (the predicted bounding set) is not retried once rejected either
    const admitted = decision.rungs.filter((r) => !i.rejected.has(`${spec.name}=${r.value}`));
    if (admitted.length === 0) {
      skip(decision.rungs[0]?.value ?? '', 'every value observation allows was rejected');
      continue;
    }
    // the learning rung (strict) with the directories the unit writes kept writable: stronger than
    // falling back to a weaker rung (full)
    const seeds = i.writableScope ? writableRoots(i.facts.writableDirs ?? [], i.writableScope) : [];
    const learns = spec.learnsPaths?.rung;
    const seeded = admitted.map((r) => (r.value === learns ? withWritablePaths(r, seeds) : r));
    candidates.push({ spec, rungs: seeded });
  }
  return { candidates, skipped };
}
