// The network options: RestrictAddressFamilies, IPAddressDeny, PrivateNetwork. Their scores, how a
// rung is written over a vendor's value, and what observation and the user's declarations allow.
// Pure.
import { BlockList, isIP } from 'node:net';
import { canonicalCidrs, parseCidr } from './cidr.js';
import { ipList, listOf, unrestricted, type IpEntry } from './effective.js';
import type { CatalogRung, Declarations, Decision, EffectiveSettings, Rung, SafetyFacts } from './types.js';

const EPS = 1e-9;

// ---------------------------------------------------------------------------------------------
// RestrictAddressFamilies: rows of analyze-security, 3975 in all.

const AF_ROWS = { inet: 1500, other: 1250, packet: 1000, netlink: 200, unix: 25 };
export const AF_WEIGHT = Object.values(AF_ROWS).reduce((s, w) => s + w, 0);

function afRow(family: string): keyof typeof AF_ROWS {
  if (family === 'AF_INET' || family === 'AF_INET6') return 'inet';
  if (family === 'AF_UNIX') return 'unix';
  if (family === 'AF_NETLINK') return 'netlink';
  if (family === 'AF_PACKET') return 'packet';
  return 'other';
}

function afRung(families: string[], minSystemd?: number): CatalogRung {
  const rows = new Set(families.map(afRow));
  const allowed = new Set(families);
  return {
    value: families.length ? families.join(' ') : 'none',
    lines: [`RestrictAddressFamilies=${families.length ? families.join(' ') : 'none'}`],
    residual: [...rows].reduce((s, r) => s + AF_ROWS[r], 0) / AF_WEIGHT,
    // in force when the allow list in force is a subset; a deny list never is
    inForce: (eff) => {
      const l = listOf(eff.RestrictAddressFamilies);
      return l.allow && [...l.items].every((f) => allowed.has(f));
    },
    ...(minSystemd ? { minSystemd } : {}),
  };
}

/** RestrictAddressFamilies' ladder, strongest first. */
export const AF_LADDER: CatalogRung[] = [
  afRung([], 249),
  afRung(['AF_UNIX']),
  afRung(['AF_UNIX', 'AF_INET', 'AF_INET6']),
  afRung(['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK']),
];

/** List settings merge across drop-ins: an allow line after an allow list adds entries, after a
 * deny list it removes them (reference §3). */
export function renderAddressFamilies(rung: Rung, eff: EffectiveSettings): string[] | null {
  const cur = listOf(eff.RestrictAddressFamilies);
  if (rung.value === 'none' || unrestricted(cur)) return [...rung.lines]; // `none` always empties the list
  const want = rung.value.split(' ');
  if (cur.allow) {
    // narrow the vendor's allow list to the rung's families; an allow line would add instead
    return [`RestrictAddressFamilies=~${[...cur.items].filter((f) => !want.includes(f)).sort().join(' ')}`];
  }
  // Vendor deny list D: an allow line would only remove entries from D. Reset, allow, and keep D out.
  const keepOut = want.filter((f) => cur.items.has(f));
  return ['RestrictAddressFamilies=', ...rung.lines, ...(keepOut.length ? [`RestrictAddressFamilies=~${keepOut.join(' ')}`] : [])];
}

const familiesOf = (rung: Rung) => (rung.value === 'none' ? [] : rung.value.split(/\s+/));

/** Only rungs that keep every family the unit was seen using. */
export function admitAddressFamilies(rungs: Rung[], f: SafetyFacts): Decision {
  const kept = rungs.filter((r) => f.families.every((fam) => familiesOf(r).includes(fam)));
  return kept.length ? { rungs: kept } : { skip: `uses ${f.families.join(' ')}; no rung keeps them all` };
}

// ---------------------------------------------------------------------------------------------
// IPAddressDeny (analyze-security's assess_ip_address_allow, over 10)

function ipResidual(eff: EffectiveSettings): number {
  const deny = ipList(eff, 'IPAddressDeny');
  const denyAll = deny.some((e) => e.family === 2 && e.prefix === 0) && deny.some((e) => e.family === 10 && e.prefix === 0);
  if (!denyAll) return 1;
  const allow = ipList(eff, 'IPAddressAllow');
  const localhost = (e: IpEntry) =>
    (e.family === 2 && e.prefix === 8 && e.address.startsWith('127.')) || (e.family === 10 && e.prefix === 128 && e.address === '::1');
  if (allow.some((e) => !localhost(e))) return 0.5;
  return allow.length ? 0.2 : 0;
}

/** The local-only default; the real lines come from the declarations (admitIpAddressDeny). */
export const IP_LADDER: Rung[] = [
  {
    value: 'any, allow localhost', lines: ['IPAddressDeny=any', 'IPAddressAllow=localhost'], residual: 0.2,
    inForce: (eff) => ipResidual(eff) <= 0.2 + EPS,
  },
];

/** Appending to a vendor's deny list could re-allow localhost; the safety policy decides there. */
export function renderIpAddressDeny(rung: Rung, eff: EffectiveSettings): string[] | null {
  return ipList(eff, 'IPAddressDeny').length ? null : [...rung.lines];
}

function covered(peer: string, cidrs: readonly string[]): boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    const { address, prefix, family } = parseCidr(c);
    list.addSubnet(address, prefix, family);
  }
  const v = isIP(peer);
  return v !== 0 && list.check(peer, v === 4 ? 'ipv4' : 'ipv6');
}

/** The rung the policy built in force: everything denied, and each network it allows allowed. */
export function allowedNetsInForce(allowNet: readonly string[], eff: EffectiveSettings): boolean {
  const deny = Array.isArray(eff.IPAddressDeny) ? (eff.IPAddressDeny as Array<{ prefix: number }>) : [];
  const allow = Array.isArray(eff.IPAddressAllow) ? (eff.IPAddressAllow as Array<{ address: string; prefix: number }>) : [];
  return deny.filter((e) => e.prefix === 0).length >= 2 && allowNet.every((c) => {
    let net: { address: string; prefix: number };
    try {
      net = parseCidr(c);
    } catch {
      return false; // not a network (a tampered journal)
    }
    return allow.some((a) => a.address === net.address && a.prefix === net.prefix);
  });
}

/** The lines carry the canonical re-print of each CIDR, never the text the user typed. Its items
 * are those networks. */
function ipRung(declared: readonly string[]): Rung {
  const allowNet = canonicalCidrs(declared);
  const lines = ['IPAddressDeny=any', 'IPAddressAllow=localhost', ...(allowNet.length ? [`IPAddressAllow=${allowNet.join(' ')}`] : [])];
  const base = IP_LADDER[0]!.value;
  const value = allowNet.length ? `${base} ${allowNet.join(' ')}` : base;
  return {
    value,
    lines,
    residual: allowNet.length ? 0.5 : 0.2,
    inForce: (eff) => allowedNetsInForce(allowNet, eff),
    ...(value !== base ? { rung: base } : {}),
    items: allowNet,
  };
}

/** A loopback probe cannot vouch for remote peers: only what the user declared is allowed. */
export function admitIpAddressDeny(_rungs: Rung[], f: SafetyFacts, d: Declarations): Decision {
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

// ---------------------------------------------------------------------------------------------
// PrivateNetwork

export function admitPrivateNetwork(rungs: Rung[], f: SafetyFacts): Decision {
  if (f.usesInet) {
    return { skip: `has inet sockets (${f.inetEndpoints.slice(0, 3).join(', ')}); a private network would cut off every TCP/UDP client, even on 127.0.0.1` };
  }
  return { rungs };
}
