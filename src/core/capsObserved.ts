// The capabilities a running unit was seen to need, from what the kernel records of its processes
// (ids, open files, sockets) rather than from its logs, so that tune verifies one predicted
// bounding set instead of removing capabilities one by one. Pure: adapters/observeService.ts reads.
//
// Only needs the kernel shows are predicted: CAP_SETUID/CAP_SETGID (a root process's children run
// under other ids), CAP_NET_BIND_SERVICE (a port below ip_unprivileged_port_start), and
// CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (root holds a file its mode bits would deny it). A trial
// still verifies the prediction.
import { CAPABILITIES } from './capabilities.js';
import { isListening, O_ACCMODE, O_RDWR, O_WRONLY, type ProcessObservation, type UnitObservation } from './observe.js';
import type { EffectiveSettings } from './types.js';

export interface CapNeed {
  cap: string;
  /** A short reason a person can check ("nginx runs as uid 33 under root nginx"). */
  why: string;
}

export interface CapsContext {
  /** Whether systemd starts the unit's processes as root (User= unset or root, no DynamicUser),
   * and with gid 0 (Group= unset or root too). */
  start: { root: boolean; rootGroup: boolean };
  /** /proc/sys/net/ipv4/ip_unprivileged_port_start (1024 by default). */
  unprivilegedPortStart: number;
  /** Socket inodes PID 1 holds too: bound by systemd and passed in, no capability needed. */
  managerSockets?: ReadonlySet<number>;
}

const O_RDONLY = 0;
const O_PATH = 0o10000000;
const isRootName = (v: EffectiveSettings[string] | undefined) => v === null || v === undefined || v === '' || v === 'root' || v === '0';

/** How systemd starts the unit, from its User=, Group= and DynamicUser= properties. */
export function startIdentity(eff: EffectiveSettings): CapsContext['start'] {
  const root = eff.DynamicUser !== true && isRootName(eff.User);
  return { root, rootGroup: root && isRootName(eff.Group) };
}

/** What the unit needs, in capability order with its reasons; undefined when its processes or
 * their ids could not be read (then nothing is predicted). */
export function capsNeeded(obs: UnitObservation, ctx: CapsContext): CapNeed[] | undefined {
  const procs = [...obs.processes].sort((a, b) => a.pid - b.pid);
  if (procs.length === 0 || procs.some((p) => !p.ids)) return undefined;
  const why = new Map<string, string[]>();
  const need = (cap: string, reason: string) => {
    const list = why.get(cap) ?? [];
    if (!list.includes(reason)) why.set(cap, [...list, reason]);
  };
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const root = rootOrigin(byPid, ctx);

  for (const p of procs) {
    const ids = p.ids!;
    const parent = byPid.get(p.ppid);
    // the ids it came from and whether they held root's capabilities; a process that became
    // root by exec (a setuid binary) needed none, and neither did what it then did
    const from = parent
      ? { holds: root(parent.pid) && parent.ids!.uid[1] === 0, uid: parent.ids!.uid.slice(0, 3), gid: parent.ids!.gid.slice(0, 3), groups: parent.ids!.groups, who: `under root ${parent.name}` }
      : { holds: ctx.start.root, uid: [0], gid: ctx.start.rootGroup ? [0] : undefined, groups: undefined, who: 'though the unit starts as root' };
    if (!from.holds) continue;
    const newUid = ids.uid.find((u) => !from.uid.includes(u));
    if (newUid !== undefined) need('CAP_SETUID', `${p.name} runs as uid ${newUid} ${from.who}`);
    const newGid = from.gid && ids.gid.find((g) => !from.gid!.includes(g));
    if (newGid !== undefined) need('CAP_SETGID', `${p.name} runs as gid ${newGid} ${from.who}`);
    else if (from.groups && !sameSet(ids.groups, from.groups)) {
      need('CAP_SETGID', `${p.name} runs with groups ${ids.groups.join(' ') || '(none)'} ${from.who}`);
    }
  }

  const managed = ctx.managerSockets ?? new Set<number>();
  for (const s of obs.inet.filter(isListening)) {
    const port = s.local.port;
    if (port > 0 && port < ctx.unprivilegedPortStart && !managed.has(s.inode)) {
      need('CAP_NET_BIND_SERVICE', `listens on ${s.proto.replace('6', '')} port ${port}`);
    }
  }

  let writes = false;
  const reads: string[] = [];
  for (const p of procs.filter((x) => x.ids!.uid[3] === 0 && root(x.pid))) {
    for (const f of p.files ?? []) {
      const acc = f.flags & O_ACCMODE;
      if (f.flags & O_PATH) continue;
      const allowed = permitted(p, f);
      const desc = `${f.path} owned by uid ${f.uid} mode ${(f.mode & 0o7777).toString(8).padStart(4, '0')}`;
      if ((acc === O_WRONLY || acc === O_RDWR) && !(allowed & 2)) {
        need('CAP_DAC_OVERRIDE', `root writes ${desc}`);
        writes = true;
      } else if ((acc === O_RDONLY || acc === O_RDWR) && !(allowed & 4)) {
        reads.push(`root reads ${desc}`);
      }
    }
  }
  // DAC_OVERRIDE lets root read what it may not, too
  if (!writes) for (const r of reads) need('CAP_DAC_READ_SEARCH', r);

  return CAPABILITIES.filter((c) => why.has(c)).map((cap) => {
    const list = why.get(cap)!;
    return { cap, why: list.length > 2 ? `${list.slice(0, 2).join('; ')} (and ${list.length - 2} more)` : list.join('; ') };
  });
}

/** Whether a process's root identity comes from systemd's start rather than a setuid exec: the
 * unit starts as root, and every ancestor within the unit stayed root. */
function rootOrigin(byPid: ReadonlyMap<number, ProcessObservation>, ctx: CapsContext): (pid: number) => boolean {
  const memo = new Map<number, boolean>();
  const of = (pid: number, depth: number): boolean => {
    const known = memo.get(pid);
    if (known !== undefined) return known;
    const parent = byPid.get(byPid.get(pid)!.ppid);
    // a ppid loop (not something the kernel makes) or a chain this deep counts as not root
    memo.set(pid, false);
    const v = depth > 64 ? false : parent ? parent.ids!.uid[1] === 0 && of(parent.pid, depth + 1) : ctx.start.root;
    memo.set(pid, v);
    return v;
  };
  return (pid) => of(pid, 0);
}

/** The rwx bits a root process without capabilities gets on the file (fsuid 0). */
function permitted(p: ProcessObservation, f: { uid: number; gid: number; mode: number }): number {
  const ids = p.ids!;
  if (f.uid === 0) return (f.mode >> 6) & 7;
  if (f.gid === ids.gid[3] || ids.groups.includes(f.gid)) return (f.mode >> 3) & 7;
  return f.mode & 7;
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
}
