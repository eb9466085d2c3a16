// The safety policy: what a probe cannot vouch for is not tried unless the user declares it.
// Pure: observation facts and the user's declarations in, a decision per option out.
import { BlockList, isIP } from 'node:net';
import { canonicalCidrs, parseCidr } from './cidr.js';
import type { OptionSpec, Rung } from './types.js';

/** What the user declared on the command line. */
export interface Declarations {
  /** Peers the service may talk to or be reached by, besides loopback (--allow-net). */
  allowNet: string[];
  /** Only loopback may reach the service (--local-only). */
  localOnly: boolean;
  /** Login sessions the service spawns may be confined too (--confine-sessions). */
  confineSessions: boolean;
}

/** What observation of the running unit showed (see core/observe.ts). */
export interface SafetyFacts {
  usesInet: boolean;
  inetEndpoints: string[];
  nonLoopbackListeners: string[];
  families: string[];
  /** Non-loopback addresses of connected peers. */
  peers: string[];
  /** Why we think the unit spawns login sessions; empty when it does not. */
  sessionEvidence: string[];
  /** Those sessions stay in the unit's cgroup (no pam_systemd moves them out): cgroup settings reach them. */
  sessionsStayInUnit?: boolean;
  /** Modes of the files and sockets the unit creates and writes. */
  createdModes: Array<{ path: string; mode: number }>;
  /** Directories of the files it holds open for writing: seeds for ReadWritePaths. */
  writableDirs?: string[];
  /** User ids its processes run as, and their command names: priors for the search. */
  uids?: number[];
  commands?: string[];
}

export type Decision = { rungs: Rung[] } | { skip: string };

export const NO_DECLARATIONS: Declarations = { allowNet: [], localOnly: false, confineSessions: false };

export { canonicalCidrs, parseCidr, type Cidr } from './cidr.js';

function covered(peer: string, cidrs: readonly string[]): boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    const { address, prefix, family } = parseCidr(c);
    list.addSubnet(address, prefix, family);
  }
  const v = isIP(peer);
  return v !== 0 && list.check(peer, v === 4 ? 'ipv4' : 'ipv6');
}

/** The lines carry the canonical re-print of each CIDR, never the text the user typed. */
function ipRung(declared: readonly string[]): Rung {
  const allowNet = canonicalCidrs(declared);
  const lines = ['IPAddressDeny=any', 'IPAddressAllow=localhost', ...(allowNet.length ? [`IPAddressAllow=${allowNet.join(' ')}`] : [])];
  return {
    value: allowNet.length ? `any, allow localhost ${allowNet.join(' ')}` : 'any, allow localhost',
    lines,
    residual: allowNet.length ? 0.5 : 0.2,
    inForce: (eff) => {
      const deny = Array.isArray(eff.IPAddressDeny) ? (eff.IPAddressDeny as Array<{ prefix: number }>) : [];
      const allow = Array.isArray(eff.IPAddressAllow) ? (eff.IPAddressAllow as Array<{ address: string; prefix: number }>) : [];
      return deny.filter((e) => e.prefix === 0).length >= 2 && allowNet.every((c) => {
        const { address, prefix } = parseCidr(c);
        return allow.some((a) => a.address === address && a.prefix === prefix);
      });
    },
  };
}

const familiesOf = (rung: Rung) => (rung.value === 'none' ? [] : rung.value.split(/\s+/));
const umaskOf = (rung: Rung) => Number.parseInt(rung.value, 8);

/**
 * Settings a spawned login session inherits although the catalog does not mark them as confining:
 * the umask passes from sshd or cron to every shell and job they start (Debian's PAM stacks have no
 * pam_umask), so UMask=0077 on sshd makes every file an admin creates over ssh private.
 */
const INHERITED_BY_SESSIONS: ReadonlySet<string> = new Set(['UMask']);

/** Settings that act on the unit's cgroup: they reach sessions only while those stay in it. */
const CGROUP_SCOPED: ReadonlySet<string> = new Set(['IPAddressDeny']);

export function confinesSessions(spec: OptionSpec, f?: Pick<SafetyFacts, 'sessionsStayInUnit'>): boolean {
  return spec.confinesSessions || INHERITED_BY_SESSIONS.has(spec.name) || (f?.sessionsStayInUnit === true && CGROUP_SCOPED.has(spec.name));
}

/**
 * The reach checks come first: their reason holds whatever the user says about sessions
 * (--confine-sessions does not make PrivateNetwork safe for a unit with inet sockets), so that
 * is the reason a skip gives.
 */
export function applySafetyPolicy(spec: OptionSpec, rungs: Rung[], f: SafetyFacts, d: Declarations): Decision {
  const decision = reachAndModes(spec, rungs, f, d);
  if ('skip' in decision) return decision;
  if (confinesSessions(spec, f) && f.sessionEvidence.length && !d.confineSessions) {
    return { skip: `spawns login sessions (${f.sessionEvidence[0]}); ${spec.name} would confine them too — pass --confine-sessions to allow it` };
  }
  return decision;
}

function reachAndModes(spec: OptionSpec, rungs: Rung[], f: SafetyFacts, d: Declarations): Decision {
  switch (spec.name) {
    case 'PrivateNetwork':
      if (f.usesInet) {
        return { skip: `has inet sockets (${f.inetEndpoints.slice(0, 3).join(', ')}); a private network would cut off every TCP/UDP client, even on 127.0.0.1` };
      }
      return { rungs };
    case 'IPAddressDeny': {
      if (!d.localOnly && d.allowNet.length === 0) {
        const where = f.nonLoopbackListeners.length ? `listens on ${f.nonLoopbackListeners.slice(0, 3).join(', ')}` : 'a loopback probe cannot see who else must reach it';
        return { skip: `${where}; IPAddressDeny needs --allow-net CIDR… or --local-only` };
      }
      const stranded = f.peers.filter((p) => !covered(p, d.allowNet));
      if (stranded.length) {
        return { skip: `talks to ${stranded.slice(0, 3).join(', ')}, which the declaration does not cover; add them with --allow-net` };
      }
      return { rungs: [ipRung(d.localOnly ? [] : d.allowNet)] };
    }
    case 'RestrictAddressFamilies': {
      const kept = rungs.filter((r) => f.families.every((fam) => familiesOf(r).includes(fam)));
      return kept.length ? { rungs: kept } : { skip: `uses ${f.families.join(' ')}; no rung keeps them all` };
    }
    case 'UMask': {
      // A umask that masks a bit the unit's files carry would create them with fewer permissions.
      const kept = rungs.filter((r) => f.createdModes.every((m) => (m.mode & umaskOf(r)) === 0));
      if (kept.length) return { rungs: kept };
      const m = f.createdModes.find((x) => rungs.every((r) => (x.mode & umaskOf(r)) !== 0));
      return { skip: `creates ${m?.path ?? 'files'} with mode ${(m?.mode ?? 0).toString(8).padStart(4, '0')}; a tighter umask would take permissions away from them` };
    }
    default:
      return { rungs };
  }
}
