// The BPF options: SocketBindDeny= (with SocketBindAllow= for the ports the unit was seen
// listening on), RestrictFileSystems= (the file system types it was seen using) and
// RestrictNetworkInterfaces= (lo, with --local-only). Their ladders, how a rung is written over a
// vendor's value, what observation allows, and the trusted check that this systemd enforces them.
// Pure.
//
// systemd reports the CONFIGURED value of all three whether or not it enforces them (a build
// without +BPF_FRAMEWORK, no libbpf, no BPF LSM, a container): read-back cannot confirm them, so
// each needs `enforced`, which a throwaway check unit proves once per process
// (core/enforcementCheck.ts, adapters/bpfCheck.ts).
import { listOf } from './effective.js';
import type { Needs } from './needs.js';
import type { Decision, Declarations, EffectiveSettings, Listener, OptionSpec, Rung, SafetyFacts } from './types.js';

// ---------------------------------------------------------------------------------------------
// SocketBindAllow=/SocketBindDeny= (systemd.resource-control(5); bpf program
// src/core/bpf/socket_bind/socket-bind.bpf.c). Facts that shape the rung:
// - the rules are matched on the cgroup/bind4 and bind6 hooks: only explicit bind() is filtered;
//   the implicit bind of connect() or of a UDP sendto() on an unbound socket is not;
// - `any` is (AF_UNSPEC, 0, 0 ports): nr_ports 0 matches every port, port 0 included
//   (match_user_port), so bind() to port 0 (an ephemeral port) is denied too — seen on 257:
//   listen(0) under SocketBindDeny=any fails with EPERM. A client that binds port 0 explicitly
//   (libuv's UDP send does) breaks: hence a reach-restricting option, not a verifiable one;
// - at most 128 rules per list; ports 1..65535 (port 0 cannot be allowed).

export const MAX_BIND_RULES = 128;
const FAMILY_TEXT: Record<number, string> = { 0: '', 2: 'ipv4', 10: 'ipv6' };
const PROTO_TEXT: Record<number, string> = { 0: '', 6: 'tcp', 17: 'udp' };

/** A read-back rule a(iiqq) (family, protocol, nr_ports, port_min) as systemd's bind-rule text:
 * (2, 6, 1, 80) → "ipv4:tcp:80", (0, 0, 0, 0) → "any". A field systemd never writes makes text
 * no rule of ours equals ("family-99:…"). */
export function bindRuleText(family: number, proto: number, nrPorts: number, portMin: number): string {
  const fam = FAMILY_TEXT[family] ?? `family-${family}`;
  const pro = PROTO_TEXT[proto] ?? `proto-${proto}`;
  const ports = nrPorts === 0 ? '' : nrPorts === 1 ? String(portMin) : `${portMin}-${portMin + nrPorts - 1}`;
  const parts = [fam, pro, ports].filter(Boolean);
  return parts.length ? parts.join(':') : 'any';
}

export const listenerRule = (l: Listener) => `${l.family}:${l.proto}:${l.port}`;

function validListener(l: unknown): l is Listener {
  const x = l as Listener;
  return !!x && (x.family === 'ipv4' || x.family === 'ipv6') && (x.proto === 'tcp' || x.proto === 'udp') &&
    Number.isInteger(x.port) && x.port >= 1 && x.port <= 65535;
}

/** The allow rules for what the unit listens on: valid, distinct, sorted. */
export function allowRules(listeners: readonly Listener[]): string[] {
  return [...new Set(listeners.filter(validListener).map(listenerRule))].sort();
}

const rulesOf = (eff: EffectiveSettings, key: string): string[] => {
  const v = eff[key];
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
};

/** Everything denied and each allowed rule allowed (a vendor's extra allow rules stay theirs). */
export function socketBindInForce(items: readonly string[], eff: EffectiveSettings): boolean {
  const allow = new Set(rulesOf(eff, 'SocketBindAllow'));
  return rulesOf(eff, 'SocketBindDeny').includes('any') && items.every((i) => allow.has(i));
}

/** The ladder's one rung; admitSocketBind builds the real one (with the observed ports). */
export const SOCKET_BIND_LADDER: Rung[] = [
  { value: 'any', lines: ['SocketBindDeny=any'], residual: 0, inForce: (eff) => rulesOf(eff, 'SocketBindDeny').includes('any') },
];

/** Under a vendor's deny list our allow rules would become exceptions to it: left as it is. */
export function renderSocketBind(rung: Rung, eff: EffectiveSettings): string[] | null {
  return rulesOf(eff, 'SocketBindDeny').length ? null : [...rung.lines];
}

/** Deny every bind() but the ports the unit was seen listening on. */
export function admitSocketBind(_rungs: Rung[], f: SafetyFacts): Decision {
  if (!f.listeners) return { skip: 'observation did not read the unit\'s sockets, so the ports it must keep binding are unknown' };
  const items = allowRules(f.listeners);
  if (items.length > MAX_BIND_RULES) return { skip: `listens on ${items.length} ports; systemd takes at most ${MAX_BIND_RULES} SocketBindAllow= rules` };
  const base = SOCKET_BIND_LADDER[0]!.value;
  const value = items.length ? `${base}, allow ${items.join(' ')}` : base;
  return {
    rungs: [{
      value,
      lines: ['SocketBindDeny=any', ...items.map((i) => `SocketBindAllow=${i}`)],
      residual: 0,
      inForce: (eff) => socketBindInForce(items, eff),
      ...(value !== base ? { rung: base } : {}),
      items,
    }],
  };
}

// ---------------------------------------------------------------------------------------------
// RestrictFileSystems= (BPF LSM, file_open hook: the superblock magic of every file opened).
// Ladder: the types the unit was seen using (open files, cwd, root, mapped files, the root file
// system systemd execs from), then those plus systemd's @basic-api group (proc, sysfs, cgroup,
// devpts, devtmpfs, mqueue): what programs open now and then (/proc/self/…, a pty) without
// holding it open when observed. Not @common-block or @network: those are what the list is for.
// Names are written out (not as groups) so that the read-back can be compared name by name.

/** `systemd-analyze filesystems` @basic-api (257). */
export const BASIC_API = ['cgroup', 'cgroup2', 'devpts', 'devtmpfs', 'mqueue', 'proc', 'sysfs'];
export const MAX_FILE_SYSTEMS = 64;
const FS_NAME = /^[a-z0-9_]{1,32}$/;

/** A kernel file system type as systemd names it, or undefined: "fuse.sshfs" → "fuse" (the subtype
 * is the FUSE daemon's text; the LSM sees fuse's magic), anything not a plain name → undefined. */
export function fsTypeName(type: string): string | undefined {
  const base = type.split('.', 1)[0] ?? '';
  return FS_NAME.test(base) ? base : undefined;
}

const OBSERVED = 'observed';

/** Every type in force is one we allow: an allow list at least as narrow. */
export function fileSystemsInForce(items: readonly string[], eff: EffectiveSettings): boolean {
  const l = listOf(eff.RestrictFileSystems);
  return l.allow && l.items.size > 0 && [...l.items].every((t) => items.includes(t));
}

/** One rung in the ladder (its line only names the key; nothing writes it): admitFileSystems
 * builds the real ones, the observed types and those with @basic-api. In force: any allow list. */
export const FILE_SYSTEMS_LADDER: Rung[] = [{
  value: OBSERVED, lines: ['RestrictFileSystems=@basic-api'], residual: 0,
  inForce: (eff) => {
    const l = listOf(eff.RestrictFileSystems);
    return l.allow && l.items.size > 0;
  },
}];

/** An allow line adds to a vendor's allow list and removes from a deny list: both loosen. */
export function renderFileSystems(rung: Rung, eff: EffectiveSettings): string[] | null {
  const l = listOf(eff.RestrictFileSystems);
  return l.allow || l.items.size ? null : [...rung.lines];
}

function fsRung(types: string[]): Rung {
  return {
    value: types.join(' '),
    lines: [`RestrictFileSystems=${types.join(' ')}`],
    residual: 0,
    inForce: (eff) => fileSystemsInForce(types, eff),
    rung: OBSERVED,
    items: types,
  };
}

/** The observed types, then those with @basic-api (one rung when that adds nothing). */
export function admitFileSystems(_rungs: Rung[], f: SafetyFacts): Decision {
  if (!f.fileSystems?.length) return { skip: 'observation found no file system the unit uses (its mount table was not read)' };
  const seen = [...new Set(f.fileSystems.map(fsTypeName).filter((t) => t !== undefined))].sort();
  if (!seen.length) return { skip: 'observation found no file system type systemd could name' };
  if (seen.length > MAX_FILE_SYSTEMS) return { skip: `uses ${seen.length} file system types; more than ${MAX_FILE_SYSTEMS} is not an allow list worth writing` };
  const withApi = [...new Set([...seen, ...BASIC_API])].sort();
  return { rungs: withApi.length > seen.length ? [fsRung(seen), fsRung(withApi)] : [fsRung(seen)] };
}

// ---------------------------------------------------------------------------------------------
// RestrictNetworkInterfaces= (cgroup_skb ingress/egress by interface). Only `lo`, and only where
// the user declared that nothing but this host reaches the service: a loopback probe cannot
// vouch for remote clients, as with IPAddressDeny.

const interfacesOf = (eff: EffectiveSettings) => listOf(eff.RestrictNetworkInterfaces);

export const INTERFACES_LADDER: Rung[] = [
  {
    value: 'lo', lines: ['RestrictNetworkInterfaces=lo'], residual: 0,
    inForce: (eff) => {
      const l = interfacesOf(eff);
      return l.allow && l.items.size > 0 && [...l.items].every((i) => i === 'lo');
    },
  },
];

export function renderInterfaces(rung: Rung, eff: EffectiveSettings): string[] | null {
  const l = interfacesOf(eff);
  return l.allow || l.items.size ? null : [...rung.lines];
}

export function admitInterfaces(rungs: Rung[], f: SafetyFacts, d: Declarations): Decision {
  if (!d.localOnly) {
    const where = f.nonLoopbackListeners.length ? `listens on ${f.nonLoopbackListeners.slice(0, 3).join(', ')}` : 'a loopback probe cannot see who else must reach it';
    return { skip: `${where}; RestrictNetworkInterfaces=lo needs --local-only (only this host reaches the service)` };
  }
  if (f.peers.length) return { skip: `talks to ${f.peers.slice(0, 3).join(', ')} beyond loopback; only lo would cut it off` };
  return { rungs };
}

/** The checks that show systemd enforces an option (core/enforcementCheck.ts), by key. */
export type EnforcementKey = 'SocketBindDeny' | 'RestrictFileSystems' | 'RestrictNetworkInterfaces';

// ---------------------------------------------------------------------------------------------
// The catalog entries (core/catalog.ts lists them). Weight 0: systemd-analyze has no row for any
// of them. They act on the unit's cgroup (the LSM program is keyed by cgroup id too), so login
// sessions that leave it are not confined.

const needsOf = (systemd: number, enforced: EnforcementKey, lsm?: string): Needs =>
  ({ systemd, features: ['BPF_FRAMEWORK'], ...(lsm ? { lsm } : {}), enforced });

type Entry = Omit<OptionSpec, 'weight' | 'cost' | 'confinesSessions' | 'exitStatuses' | 'sessionReach' | 'properties'> & Partial<Pick<OptionSpec, 'properties'>>;
const entry = (o: Entry): OptionSpec =>
  ({ weight: 0, cost: 'free', confinesSessions: false, exitStatuses: [], sessionReach: 'cgroup', properties: [o.name], ...o });

export const BPF_OPTIONS: readonly OptionSpec[] = [
  entry({
    // bpf-restrict-fs.c, lsm-util.c: the BPF LSM must be active
    name: 'RestrictFileSystems', family: 'filesystem', safety: 'latent-risk', prior: 0.5, minSystemd: 250,
    kernel: 'BPF LSM (bpf in the active LSM list)', needs: needsOf(250, 'RestrictFileSystems', 'bpf'),
    logHints: ['operation not permitted', '/proc/', '/sys/'],
    ladder: FILE_SYSTEMS_LADDER, render: renderFileSystems, admit: admitFileSystems, itemsInForce: fileSystemsInForce,
    summary: 'Only the file system types the service was seen using may be opened (BPF LSM). Breaks code paths that open a file on another type (/proc, /sys, a network mount) only now and then.',
  }),
  entry({
    // bpf-socket-bind.c; socket-bind.bpf.c: cgroup/bind4, bind6
    name: 'SocketBindDeny', family: 'network', safety: 'restricts-reach', prior: 0.7, minSystemd: 249,
    kernel: 'cgroup BPF (cgroup/bind4, bind6) with bpf_link', needs: needsOf(249, 'SocketBindDeny'),
    properties: ['SocketBindDeny', 'SocketBindAllow'], logHints: ['operation not permitted', 'bind('],
    ladder: SOCKET_BIND_LADDER, render: renderSocketBind, admit: admitSocketBind, itemsInForce: socketBindInForce,
    // measured on 257: a daemon-reload leaves the running unit able to bind anything until it
    // restarts (RestrictNetworkInterfaces= and IPAddressDeny= survive one)
    lostOnReload: true,
    summary: 'bind() only to the ports the service was seen listening on (SocketBindDeny=any with SocketBindAllow= for each). Breaks a new listener, and clients that bind port 0 explicitly; connect() is not affected.',
  }),
  entry({
    // bpf-restrict-ifaces.c: cgroup_skb ingress/egress
    name: 'RestrictNetworkInterfaces', family: 'network', safety: 'restricts-reach', prior: 0.5, minSystemd: 250,
    kernel: 'cgroup BPF (cgroup_skb) with bpf_link', needs: needsOf(250, 'RestrictNetworkInterfaces'),
    logHints: ['operation not permitted', 'network is unreachable'],
    ladder: INTERFACES_LADDER, render: renderInterfaces, admit: admitInterfaces,
    summary: 'Only the loopback interface (with --local-only). Cuts off every client and peer that is not on this host; loopback probes cannot see that.',
  }),
];
