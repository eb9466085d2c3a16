// What an accepted setting means for this unit, in words a reader can act on: the catalog's safety
// class (types.ts SafetyClass) is a fact about the option, not the unit; a note is written only
// where it applies here (a unit that spawns login sessions, a failure the probes could not reach).
// Pure.
import { CATALOG } from './catalog.js';
import { confinesSessions } from './policy.js';
import type { OptionSpec, SafetyFacts } from './types.js';

/** "a failure would show only when …": per option whose failures the probes cannot provoke. */
const UNPROBED: Record<string, string> = {
  SystemCallFilter: 'it makes a system call the filter removes, on a path the probes did not take (the kernel kills it with SIGSYS)',
  MemoryDenyWriteExecute: 'it maps memory writable and executable (a JIT compiler, a plugin generating code)',
  UMask: 'another user or group must read a file or socket it creates',
  ProtectProc: "it looks at another user's processes in /proc (a monitoring or status feature)",
  ProcSubset: 'it reads /proc files that are not about processes (/proc/meminfo, /proc/cpuinfo, /proc/sys)',
  PrivatePIDs: 'something outside the unit reads its PID file or signals it; systemd 257 may stop it with SIGKILL',
  RestrictAddressFamilies: 'it opens a kind of socket it did not open while observed',
  IPAddressDeny: 'a peer other than loopback and those you allowed talks to it (the probes run on this host)',
  PrivateNetwork: 'it needs a network beyond loopback (the probes run on this host)',
};

const byName = new Map<string, OptionSpec>(CATALOG.map((c) => [c.name, c]));

/** What an accepted setting of a unit means beyond its trial: it also confines the login sessions
 * the unit spawns (observation found some: `facts`; without facts nothing is said of sessions),
 * and a failure its trial could not provoke (`note`). Empty when nothing needs saying. */
export function outcomeNotes(option: string, facts?: Pick<SafetyFacts, 'sessionEvidence' | 'sessionsStayInUnit'>): { confinesSessions?: true; note?: string } {
  const spec = byName.get(option);
  if (!spec) return {};
  const out: { confinesSessions?: true; note?: string } = {};
  if (facts?.sessionEvidence.length && confinesSessions(spec, facts)) out.confinesSessions = true;
  if (spec.safety === 'latent-risk' || spec.safety === 'restricts-reach') {
    out.note = `could not be probed: a failure would show only when ${UNPROBED[option] ?? 'it takes a path the probes did not take'} — watch for it`;
  }
  return out;
}
