// The search planner a tune runs, built in one place so that `tune` and `plan` (its preview)
// cannot disagree on how candidates are ordered, batched and weighed. Pure.
import { OneAtATime, type Candidate, type Planner } from './plan.js';
import type { SafetyFacts } from './policy.js';
import { observedPrior } from './priors.js';
import { Adaptive } from './search.js';

export type Strategy = 'one-at-a-time' | 'adaptive';

/** The chance that a candidate's strongest rung works, as the adaptive planner believes it. */
export const priorOf = (facts: SafetyFacts) => (cand: Candidate): number => observedPrior(cand.spec, facts);

export function plannerFor(strategy: Strategy, candidates: readonly Candidate[], facts: SafetyFacts): Planner {
  return strategy === 'adaptive' ? new Adaptive(candidates, { priorOf: priorOf(facts) }) : new OneAtATime(candidates);
}
