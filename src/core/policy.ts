// The safety policy: what a probe cannot vouch for is not tried unless the user declares it.
// Pure: observation facts and the user's declarations in, a decision per option out.
import type { Declarations, Decision, EffectiveSettings, OptionSpec, Rung, SafetyFacts } from './types.js';

export type { Decision, Declarations, SafetyFacts } from './types.js';

export const NO_DECLARATIONS: Declarations = { allowNet: [], localOnly: false, confineSessions: false };

export { canonicalCidrs, parseCidr, type Cidr } from './cidr.js';

/** Settings a spawned login session keeps although the catalog does not mark them as confining
 * (`sessionReach`): a umask passes from sshd or cron to every shell and job they start (Debian's
 * PAM stacks have no pam_umask); cgroup settings reach sessions only while those stay in it. */
export function confinesSessions(spec: OptionSpec, f?: Pick<SafetyFacts, 'sessionsStayInUnit'>): boolean {
  return spec.confinesSessions || spec.sessionReach === 'inherited' || (f?.sessionsStayInUnit === true && spec.sessionReach === 'cgroup');
}

/**
 * The entry's reach and mode checks (`admit`) come first: their reason holds whatever the user says about sessions
 * (--confine-sessions does not make PrivateNetwork safe for a unit with inet sockets), so that
 * is the reason a skip gives.
 */
export function applySafetyPolicy(spec: OptionSpec, rungs: Rung[], f: SafetyFacts, d: Declarations, eff?: EffectiveSettings): Decision {
  const decision = spec.admit ? spec.admit(rungs, f, d, eff) : { rungs };
  if ('skip' in decision) return decision;
  if (confinesSessions(spec, f) && f.sessionEvidence.length && !d.confineSessions) {
    return { skip: `spawns login sessions (${f.sessionEvidence[0]}); ${spec.name} would confine them too — pass --confine-sessions to allow it` };
  }
  return decision;
}

