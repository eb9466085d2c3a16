// The search planner a tune runs, built in one place so that `tune` and `plan` (its preview)
// cannot disagree on how candidates are ordered, batched and weighed. Pure.
import { blend, countOf, rungKey, type PriorCounts } from './learnedPriors.js';
import { OneAtATime, type Candidate, type Planner } from './plan.js';
import type { SafetyFacts } from './policy.js';
import { observedPrior } from './priors.js';
import { Adaptive } from './search.js';

export type Strategy = 'one-at-a-time' | 'adaptive';

/** The chance that a candidate's strongest rung works, as the adaptive planner believes it: the
 * catalog's, moved by observation, then by the trials of that rung elsewhere (`learned`, else what
 * the catalog entry carries: learnedPriors.ts withPriorCounts). */
export const priorOf = (facts: SafetyFacts, learned?: PriorCounts) => (cand: Candidate): number => {
  const p = observedPrior(cand.spec, facts);
  const r = cand.rungs[0];
  const c = r && (learned ? countOf(learned, cand.spec.name, rungKey(r)) : cand.spec.priorCounts?.get(rungKey(r)));
  return c ? blend(p, c) : p;
};

export function plannerFor(strategy: Strategy, candidates: readonly Candidate[], facts: SafetyFacts, learned?: PriorCounts): Planner {
  return strategy === 'adaptive' ? new Adaptive(candidates, { priorOf: priorOf(facts, learned) }) : new OneAtATime(candidates);
}
