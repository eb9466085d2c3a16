// Read-only observation of a running unit: parsers for /proc text and the summaries the safety
// policy needs (who can reach the unit, whom it reaches, which families it uses, whether it
// spawns login sessions). Pure: adapters/procfs.ts reads the text, this module interprets it.
import { dirname } from 'node:path/posix';
import { CREDENTIAL_FILES } from './closeFindings.js';
import { isRequestLog } from './logcheck.js';
import { normalisePath } from './paths.js';
import type { Listener, ProbeSpec, SafetyFacts } from './types.js';

export type InetProto = 'tcp' | 'tcp6' | 'udp' | 'udp6';

/** include/net/tcp_states.h; unconnected UDP sockets show as CLOSE. */
const STATES = ['ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE',
  'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV'] as const;
export type SocketState = (typeof STATES)[number] | 'UNKNOWN';

export interface Endpoint {
  address: string;
  port: number;
}

export interface InetSocket {
  proto: InetProto;
  inode: number;
  local: Endpoint;
  remote: Endpoint;
  state: SocketState;
}

export interface UnixSocket {
  inode: number;
  /** Filesystem path, '@name' for an abstract socket (NULs shown as '@'), '' for an unnamed one. */
  path: string;
  type: 'stream' | 'dgram' | 'seqpacket' | 'other';
  listening: boolean;
}

export interface NetlinkSocket {
  inode: number;
  /** NETLINK_* protocol number (0 route, 9 audit, 15 kobject-uevent, …). */
  protocol: number;
}

export interface PacketSocket {
  inode: number;
}

export type AddressFamily = 'AF_INET' | 'AF_INET6' | 'AF_UNIX' | 'AF_NETLINK' | 'AF_PACKET';

// ---- /proc/PID/net/* ------------------------------------------------------------------------

/** The kernel prints each 32-bit word of the address in host order: little-endian here. */
function wordBytes(hex: string): number[] {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24];
}

function formatV6(bytes: number[]): string {
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) {
    return `::ffff:${bytes.slice(12).join('.')}`;
  }
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  // RFC 5952: compress the longest run (≥2) of zero groups, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function decodeEndpoint(field: string, v6: boolean): Endpoint | undefined {
  const m = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(field);
  if (!m || m[1]!.length !== (v6 ? 32 : 8)) return undefined;
  const hex = m[1]!;
  const address = v6
    ? formatV6([0, 1, 2, 3].flatMap((w) => wordBytes(hex.slice(w * 8, w * 8 + 8))))
    : wordBytes(hex).join('.');
  return { address, port: parseInt(m[2]!, 16) };
}

/** /proc/PID/net/{tcp,tcp6,udp,udp6}. */
export function parseProcNet(text: string, proto: InetProto): InetSocket[] {
  const v6 = proto.endsWith('6');
  const out: InetSocket[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!/^\d+:$/.test(f[0] ?? '') || f.length < 10) continue;
    const local = decodeEndpoint(f[1]!, v6);
    const remote = decodeEndpoint(f[2]!, v6);
    if (!local || !remote) continue;
    const st = parseInt(f[3]!, 16);
    out.push({ proto, inode: Number(f[9]), local, remote, state: STATES[st - 1] ?? 'UNKNOWN' });
  }
  return out;
}

/** /proc/PID/net/unix. Listening sockets carry __SO_ACCEPTCON (0x10000) in Flags. */
export function parseProcNetUnix(text: string): UnixSocket[] {
  const out: UnixSocket[] = [];
  const re = /^[0-9a-f]+:\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+(\d+)(?: (.*))?$/i;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const type = ({ 1: 'stream', 2: 'dgram', 5: 'seqpacket' } as const)[parseInt(m[2]!, 16) as 1 | 2 | 5] ?? 'other';
    out.push({ inode: Number(m[3]), path: m[4] ?? '', type, listening: (parseInt(m[1]!, 16) & 0x10000) !== 0 });
  }
  return out;
}

/** /proc/PID/net/netlink: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode. */
export function parseProcNetNetlink(text: string): NetlinkSocket[] {
  return dataRows(text, 10).map((f) => ({ inode: Number(f[9]), protocol: Number(f[1]) }));
}

/** /proc/PID/net/packet: sk RefCnt Type Proto Iface R Rmem User Inode. */
export function parseProcNetPacket(text: string): PacketSocket[] {
  return dataRows(text, 9).map((f) => ({ inode: Number(f[8]) }));
}

function dataRows(text: string, minFields: number): string[][] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= minFields && /^[0-9a-f]+$/i.test(f[0]!));
}

// ---- /proc/PID/{fd,fdinfo,status,stat,cgroup,loginuid} --------------------------------------

/** Socket inodes from /proc/PID/fd link targets ('socket:[12345]'). */
export function parseSocketFdLinks(links: readonly string[]): number[] {
  return links.flatMap((l) => {
    const m = /^socket:\[(\d+)\]$/.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

export const O_ACCMODE = 0o3;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_APPEND = 0o2000;

/** The open flags of /proc/PID/fdinfo/N (printed in octal). */
export function parseFdinfoFlags(text: string): number | undefined {
  const m = /^flags:\s*([0-7]+)\s*$/m.exec(text);
  return m ? parseInt(m[1]!, 8) : undefined;
}

export function opensForWriting(flags: number): boolean {
  return (flags & O_ACCMODE) !== 0 || (flags & O_APPEND) !== 0;
}

export interface ProcStatus {
  name: string;
  ppid: number;
  /** Effective ids (the second column of Uid:/Gid:). */
  uid: number;
  gid: number;
  /** Capability masks; at most 41 bits today, exact in a double (names: capsFromMask in capabilities.ts). */
  capEff: number;
  capPrm: number;
  capBnd: number;
}

export function parseStatus(text: string): ProcStatus {
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const ids = (k: string) => Number(field(k).split(/\s+/)[1] ?? NaN);
  const cap = (k: string) => parseInt(field(k) || '0', 16);
  return { name: field('Name'), ppid: Number(field('PPid')), uid: ids('Uid'), gid: ids('Gid'),
    capEff: cap('CapEff'), capPrm: cap('CapPrm'), capBnd: cap('CapBnd') };
}

/** Real, effective, saved and file-system ids (in that order) and supplementary groups. */
export interface ProcIds {
  uid: [number, number, number, number];
  gid: [number, number, number, number];
  groups: number[];
}

const ID = /^\d{1,10}$/;
const idOf = (s: string) => (ID.test(s) && Number(s) <= 0xffffffff ? Number(s) : undefined);

/** Uid:, Gid: and Groups: of /proc/PID/status; undefined when any of them does not parse. */
export function parseIds(text: string): ProcIds | undefined {
  const field = (k: string) => new RegExp(`^${k}:[ \\t]*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const four = (k: string): ProcIds['uid'] | undefined => {
    const v = field(k)?.split(/\s+/).map(idOf);
    return v?.length === 4 && v.every((x) => x !== undefined) ? (v as ProcIds['uid']) : undefined;
  };
  const g = field('Groups');
  const groups = g === undefined ? undefined : g === '' ? [] : g.split(/\s+/).map(idOf);
  const uid = four('Uid');
  const gid = four('Gid');
  if (!uid || !gid || !groups || groups.some((x) => x === undefined)) return undefined;
  return { uid, gid, groups: groups as number[] };
}

/** /proc/PID/stat: the command name sits in parentheses and may itself hold ') '. */
export function parseStat(text: string): { pid: number; comm: string; ppid: number } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  return { pid: Number(text.slice(0, open).trim()), comm: text.slice(open + 1, close), ppid: Number(rest[1]) };
}

/** The unified (0::) path; the name=systemd one when the unified is only '/' (legacy/hybrid). */
export function parseProcCgroup(text: string): string {
  const path = (re: RegExp) => re.exec(text)?.[1]?.trim();
  const unified = path(/^0::(.*)$/m);
  const legacy = path(/^\d+:name=systemd:(.*)$/m);
  return unified && (unified !== '/' || !legacy) ? unified : legacy ?? unified ?? '';
}

export const LOGINUID_UNSET = 4294967295;

/** undefined when unset (4294967295) or unreadable. */
export function parseLoginuid(text: string | undefined): number | undefined {
  const n = Number((text ?? '').trim());
  return text?.trim() && Number.isInteger(n) && n !== LOGINUID_UNSET && n >= 0 ? n : undefined;
}

// ---- sessions ---------------------------------------------------------------------------------

export interface SessionProcess {
  pid: number;
  ppid: number;
  comm: string;
  cgroup: string;
  loginuid?: number;
}

export interface SessionInput {
  /** Login UID of the unit's main process (normally unset for a service). */
  unitLoginuid?: number;
  /** The unit's processes and all their descendants, wherever they live now. */
  processes: SessionProcess[];
  /** PAM service whose stack was read, and that stack with its includes resolved. */
  pamService?: string;
  pamStack?: string;
}

const SESSION_SCOPE = /\/session-[^/]+\.scope(\/|$)/;

/** Why the unit looks like it spawns login sessions; empty when it does not. */
export function sessionEvidence(input: SessionInput): string[] {
  const out: string[] = [];
  for (const p of input.processes) {
    if (SESSION_SCOPE.test(p.cgroup)) out.push(`pid ${p.pid} (${p.comm}) lives in ${p.cgroup}`);
    else if (p.loginuid !== undefined && p.loginuid !== input.unitLoginuid) {
      out.push(`pid ${p.pid} (${p.comm}) carries login UID ${p.loginuid}`);
    }
  }
  if (input.pamStack !== undefined && pamUsesSystemd(input.pamStack)) {
    out.push(`PAM stack ${input.pamService ?? '?'} registers sessions with pam_systemd.so`);
  } else if (input.pamStack !== undefined && pamSetsLoginuid(input.pamStack)) {
    // cron and atd: their jobs get a login UID but stay in the unit's cgroup and sandbox.
    out.push(`PAM stack ${input.pamService ?? '?'} opens sessions for people (pam_loginuid.so)`);
  }
  return out;
}

/**
 * Spawned sessions that stay in the unit's cgroup: nothing moves them to a session-N.scope (no
 * pam_systemd, as with cron and atd). Settings that act on the cgroup (IPAddressDeny) reach them too.
 */
export function sessionsStayInUnit(input: SessionInput): boolean {
  if (!spawnsSessions(input)) return false;
  const moved = input.processes.some((p) => SESSION_SCOPE.test(p.cgroup));
  return !moved && !(input.pamStack !== undefined && pamUsesSystemd(input.pamStack));
}

export function spawnsSessions(input: SessionInput): boolean {
  return sessionEvidence(input).length > 0;
}

/** A session line (optionally '-session') whose module is pam_systemd.so. */
export function pamUsesSystemd(stack: string): boolean {
  return /^\s*-?session\s+(\[[^\]]*\]|\S+)\s+(\S*\/)?pam_systemd\.so(\s|$)/m.test(stack);
}

/** A session line whose module is pam_loginuid.so: the service runs things on a person's behalf. */
export function pamSetsLoginuid(stack: string): boolean {
  return /^\s*-?session\s+(\[[^\]]*\]|\S+)\s+(\S*\/)?pam_loginuid\.so(\s|$)/m.test(stack);
}

const PAM_NAME = /^[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*$/;

/**
 * Resolves '@include NAME' and 'TYPE include|substack NAME' (only that TYPE's lines) through
 * lookup (the contents of /etc/pam.d/NAME or undefined). undefined when the service has no file.
 */
export function flattenPamStack(service: string, lookup: (name: string) => string | undefined): string | undefined {
  const expand = (name: string, onlyType: string | undefined, seen: ReadonlySet<string>): string | undefined => {
    if (!PAM_NAME.test(name) || seen.has(name) || seen.size > 16) return undefined;
    const text = lookup(name);
    if (text === undefined) return undefined;
    const inner = new Set(seen).add(name);
    const lines: string[] = [];
    for (const line of text.split('\n')) {
      const f = line.replace(/#.*/, '').trim().split(/\s+/);
      const type = f[0]?.replace(/^-/, '');
      if (!f[0] || (onlyType && type !== onlyType && f[0] !== '@include')) continue;
      if (f[0] === '@include' && f[1]) lines.push(expand(f[1], onlyType, inner) ?? '');
      else if ((f[1] === 'include' || f[1] === 'substack') && f[2]) lines.push(expand(f[2], type, inner) ?? '');
      else lines.push(line);
    }
    return lines.join('\n');
  };
  return expand(service, undefined, new Set());
}

// ---- the observation --------------------------------------------------------------------------

export interface ProcessObservation extends ProcStatus {
  pid: number;
  cwd?: string;
  cgroup: string;
  loginuid?: number;
  /** Inodes of the sockets among its fds. */
  sockets: number[];
  /** Paths it holds open for writing. */
  writing: string[];
  /** Its ids; undefined when /proc/PID/status did not show them in the kernel's form. */
  ids?: ProcIds;
  /** Regular files and directories it holds open, as stat and fdinfo show them. */
  files?: OpenFile[];
}

/** An open file: its path, owner, mode (with the file type bits) and open flags. */
export interface OpenFile {
  path: string;
  uid: number;
  gid: number;
  mode: number;
  flags: number;
}

export interface UnitObservation {
  mainPid: number;
  pids: number[];
  processes: ProcessObservation[];
  /** Sockets held by the unit's processes, matched by inode to its network namespace's tables. */
  inet: InetSocket[];
  unix: UnixSocket[];
  netlink: NetlinkSocket[];
  packet: PacketSocket[];
  /** Socket inodes in none of the tables: another family (AF_ALG, vsock …) or namespace. */
  otherSockets: number[];
  /** Files open for writing by any process, sorted. */
  writablePaths: string[];
  /** The main process's working directory. */
  cwd?: string;
  sessions?: SessionInput;
  warnings: string[];
  /** Whether any socket table was read: without, what it listens on is unknown. */
  socketsRead?: boolean;
  /** File system types its processes use; undefined when no mount table was read. */
  fileSystems?: string[];
  /** Files its processes run or map executable (exe links, maps), as the kernel names them;
   * undefined when no process's mappings were read. */
  execFiles?: string[];
}

/** What the adapter read, as text. Missing pieces are tolerated: processes come and go. */
export interface RawProcess {
  pid: number;
  status: string;
  cgroup?: string;
  loginuid?: string;
  cwd?: string;
  /** stat: what stat of /proc/PID/fd/N says (path fds only; absent when it vanished). */
  fds: Array<{ link: string; fdinfo?: string; stat?: { uid: number; gid: number; mode: number } }>;
  /** Its mount namespace (the key of RawObservation.mountinfo); /proc/PID/maps (bounded); the
   * devices (major:minor) its root, cwd and exe live on. */
  mntns?: string;
  maps?: string;
  devs?: string[];
  /** The /proc/PID/exe link. */
  exe?: string;
}

export interface RawNetTables {
  tcp?: string;
  tcp6?: string;
  udp?: string;
  udp6?: string;
  unix?: string;
  netlink?: string;
  packet?: string;
}

export interface RawObservation {
  mainPid: number;
  processes: RawProcess[];
  /** One set per network namespace the processes live in; inodes are unique across them. */
  net: RawNetTables[];
  sessions?: SessionInput;
  warnings?: string[];
  /** /proc/PID/mountinfo (bounded), one per mount namespace, keyed as RawProcess.mntns. */
  mountinfo?: Record<string, string>;
}

// Character devices everyone writes to; not paths a sandbox needs to open up.
const NULL_DEVICES = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']);

/** Paths opened for writing; deleted files and memfds are left out: no sandbox setting can name them. */
export function writeTargets(fds: RawProcess['fds']): string[] {
  return fds.flatMap(({ link, fdinfo }) => {
    if (!link.startsWith('/') || link.endsWith(' (deleted)') || link.startsWith('/memfd:') || NULL_DEVICES.has(link)) {
      return [];
    }
    const flags = fdinfo === undefined ? undefined : parseFdinfoFlags(fdinfo);
    return flags !== undefined && opensForWriting(flags) ? [link] : [];
  });
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/** The regular files and directories among the fds whose owner, mode and flags were read. */
export function openFiles(fds: RawProcess['fds']): OpenFile[] {
  const seen = new Map<string, OpenFile>();
  for (const { link, fdinfo, stat } of fds) {
    const flags = fdinfo === undefined ? undefined : parseFdinfoFlags(fdinfo);
    if (!link.startsWith('/') || !stat || flags === undefined) continue;
    const type = stat.mode & S_IFMT;
    if (type !== S_IFREG && type !== S_IFDIR) continue;
    seen.set(`${flags}:${link}`, { path: link, uid: stat.uid, gid: stat.gid, mode: stat.mode, flags });
  }
  return [...seen.values()];
}

export function buildObservation(raw: RawObservation): UnitObservation {
  const processes: ProcessObservation[] = raw.processes.map((p) => ({
    pid: p.pid,
    ...parseStatus(p.status),
    cwd: p.cwd,
    cgroup: p.cgroup === undefined ? '' : parseProcCgroup(p.cgroup),
    loginuid: parseLoginuid(p.loginuid),
    sockets: [...new Set(parseSocketFdLinks(p.fds.map((f) => f.link)))],
    writing: [...new Set(writeTargets(p.fds))],
    ids: parseIds(p.status),
    files: openFiles(p.fds),
  }));
  const held = new Set(processes.flatMap((p) => p.sockets));
  const found = new Set<number>();
  const pick = <T extends { inode: number }>(rows: T[]): T[] => {
    const mine = rows.filter((r) => held.has(r.inode) && !found.has(r.inode));
    for (const r of mine) found.add(r.inode);
    return mine;
  };
  const all = <T>(f: (t: RawNetTables) => T[]) => raw.net.flatMap(f);
  const inet = pick(all((t) => (['tcp', 'tcp6', 'udp', 'udp6'] as const).flatMap((k) => parseProcNet(t[k] ?? '', k))));
  const unix = pick(all((t) => parseProcNetUnix(t.unix ?? '')));
  const netlink = pick(all((t) => parseProcNetNetlink(t.netlink ?? '')));
  const packet = pick(all((t) => parseProcNetPacket(t.packet ?? '')));
  return {
    mainPid: raw.mainPid,
    pids: processes.map((p) => p.pid),
    processes,
    inet,
    unix,
    netlink,
    packet,
    otherSockets: [...held].filter((i) => !found.has(i)).sort((a, b) => a - b),
    writablePaths: [...new Set(processes.flatMap((p) => p.writing))].sort(),
    cwd: processes.find((p) => p.pid === raw.mainPid)?.cwd,
    sessions: raw.sessions,
    warnings: raw.warnings ?? [],
    socketsRead: raw.net.length > 0,
    fileSystems: fileSystemsInUse(raw),
    ...(raw.processes.some((p) => p.maps !== undefined) ? { execFiles: execFilesOf(raw.processes) } : {}),
  };
}

// ---- where its code comes from (ExecPaths=) ----------------------------------------------------

const DELETED = ' (deleted)';

/** Files mapped executable in /proc/PID/maps ("7f… r-xp 00000000 fd:01 1234    /usr/lib/x.so"):
 * file-backed (inode ≠ 0), names to the line's end (the kernel writes a newline in a name as
 * \012); a replaced file's " (deleted)" dropped, its directory still counts. */
export function parseMapsExecFiles(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ [r-][w-]x[ps] [0-9a-f]+ [0-9a-f]+:[0-9a-f]+ (\d+) +(\/.*)$/.exec(line);
    if (m && m[1] !== '0') out.add(m[2]!.endsWith(DELETED) ? m[2]!.slice(0, -DELETED.length) : m[2]!);
  }
  return [...out];
}

function execFilesOf(processes: readonly RawProcess[]): string[] {
  const files = processes.flatMap((p) => [
    ...(p.exe?.startsWith('/') ? [p.exe.endsWith(DELETED) ? p.exe.slice(0, -DELETED.length) : p.exe] : []),
    ...parseMapsExecFiles(p.maps ?? ''),
  ]);
  return [...new Set(files)].sort();
}

/** The directories of these files as ExecPaths= can name them: each resolved first (realFile,
 * the adapter's realpath: merged /usr turns /lib into /usr/lib), then normalised; a path a
 * drop-in cannot carry literally (relative, control characters, spaces, quotes) is dropped. */
export function execDirsOf(files: readonly string[], realFile?: (path: string) => string | undefined): string[] {
  const out = new Set<string>();
  for (const f of files) {
    const p = normalisePath(realFile?.(f) ?? f);
    if (p !== undefined && p !== '/') out.add(dirname(p));
  }
  return [...out].sort();
}

// ---- file systems in use (RestrictFileSystems) -------------------------------------------------

export interface Mount {
  id: number;
  /** major:minor, decimal. */
  dev: string;
  mountPoint: string;
  type: string;
}

/** /proc/PID/mountinfo: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw". Fields
 * are space-separated (the kernel escapes spaces in paths); lines not in that form are skipped. */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || !/^\d+$/.test(f[0] ?? '') || !/^\d+:\d+$/.test(f[2] ?? '') || !f[sep + 1]) continue;
    out.push({ id: Number(f[0]), dev: f[2]!, mountPoint: f[4] ?? '', type: f[sep + 1]! });
  }
  return out;
}

/** Devices of the file-backed mappings in /proc/PID/maps ("7f… r-xp 00000000 fd:01 1234 /usr/…"),
 * as decimal major:minor. */
export function parseMapsDevices(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ [0-9a-f]+ ([0-9a-f]+):([0-9a-f]+) (\d+)/.exec(line);
    if (m && m[3] !== '0') out.add(`${parseInt(m[1]!, 16)}:${parseInt(m[2]!, 16)}`);
  }
  return [...out];
}

/** The mount id of /proc/PID/fdinfo/N ("mnt_id:\t25"). */
export function parseFdinfoMountId(text: string): number | undefined {
  const m = /^mnt_id:\s*(\d+)\s*$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The types of the mounts the processes use: of each file they hold open (by mount id), of their
 * root, cwd, exe and mapped files (by device), and the root file system (what systemd execs from).
 * Types as the kernel writes them; which are names systemd takes is core/bpfOptions.ts's. */
export function fileSystemsInUse(raw: RawObservation): string[] | undefined {
  if (!raw.mountinfo || Object.keys(raw.mountinfo).length === 0) return undefined;
  const types = new Set<string>();
  for (const p of raw.processes) {
    const mounts = parseMountinfo(raw.mountinfo[p.mntns ?? ''] ?? '');
    if (!mounts.length) continue;
    const byId = new Map(mounts.map((m) => [m.id, m.type]));
    const byDev = new Map(mounts.map((m) => [m.dev, m.type]));
    const root = mounts.filter((m) => m.mountPoint === '/').at(-1);
    if (root) types.add(root.type);
    for (const { link, fdinfo } of p.fds) {
      const id = link.startsWith('/') && fdinfo !== undefined ? parseFdinfoMountId(fdinfo) : undefined;
      const t = id === undefined ? undefined : byId.get(id);
      if (t) types.add(t);
    }
    for (const dev of [...(p.devs ?? []), ...parseMapsDevices(p.maps ?? '')]) {
      const t = byDev.get(dev);
      if (t) types.add(t);
    }
  }
  return [...types].sort();
}

// ---- summaries --------------------------------------------------------------------------------

/** A TCP socket in LISTEN, or a bound UDP socket with no peer (it takes datagrams from anyone). */
export function isListening(s: InetSocket): boolean {
  if (s.proto.startsWith('tcp')) return s.state === 'LISTEN';
  return s.state === 'CLOSE' && s.remote.port === 0 && s.local.port !== 0;
}

/** 127.0.0.0/8, ::1, and their IPv4-mapped forms (::ffff:127.x.y.z, ::ffff:7fxx:…). */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  return /^127\.\d+\.\d+\.\d+$/.test(a) || a === '::1' || /^::ffff:(127\.|7f[0-9a-f]{2}:)/.test(a);
}

/** '::ffff:10.0.0.2' → '10.0.0.2': on the wire (and to IPAddressAllow=) such a peer is IPv4. */
export function unmapV4(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}

export function formatEndpoint(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

export function listeners(obs: UnitObservation): InetSocket[] {
  return obs.inet.filter(isListening);
}

/** What it listens on as bind rules see it (family, transport, port), distinct. */
export function listenerFacts(obs: UnitObservation): Listener[] {
  const seen = new Map<string, Listener>();
  for (const s of listeners(obs)) {
    const l: Listener = { family: s.proto.endsWith('6') ? 'ipv6' : 'ipv4', proto: s.proto.startsWith('tcp') ? 'tcp' : 'udp', port: s.local.port };
    seen.set(`${l.family}:${l.proto}:${l.port}`, l);
  }
  return [...seen.values()];
}

/** Listeners on 0.0.0.0, ::, or any address outside loopback. */
export function nonLoopbackListeners(obs: UnitObservation): InetSocket[] {
  return listeners(obs).filter((s) => !isLoopback(s.local.address));
}

export function listensOnNonLoopback(obs: UnitObservation): boolean {
  return nonLoopbackListeners(obs).length > 0;
}

export function usesInet(obs: UnitObservation): boolean {
  return obs.inet.length > 0;
}

export function familiesInUse(obs: UnitObservation): AddressFamily[] {
  const f = new Set<AddressFamily>();
  for (const s of obs.inet) f.add(s.proto.endsWith('6') ? 'AF_INET6' : 'AF_INET');
  if (obs.unix.length) f.add('AF_UNIX');
  if (obs.netlink.length) f.add('AF_NETLINK');
  if (obs.packet.length) f.add('AF_PACKET');
  return [...f].sort();
}

/** Remote addresses of connected sockets outside loopback, IPv4-mapped ones as plain IPv4. */
export function peers(obs: UnitObservation): string[] {
  const out = obs.inet
    .filter((s) => !isListening(s) && s.remote.port !== 0 && !isLoopback(s.remote.address))
    .map((s) => unmapV4(s.remote.address));
  return [...new Set(out)].sort();
}

function probeHost(p: ProbeSpec): string | undefined {
  if (p.kind === 'tcp') return p.host;
  if (p.kind === 'http') {
    try {
      return new URL(p.url).hostname.replace(/^\[|\]$/g, '');
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * True when the unit listens beyond loopback but no probe comes from there: every http/tcp probe
 * targets loopback or localhost. exec probes count as local (they run here; pg_isready and the
 * like go through a Unix socket); no probes at all counts as local too, since nothing then looks
 * from outside. A probe to the host's own non-loopback address is not local: IPAddressDeny and
 * PrivateNetwork break it.
 */
export function probesOnlyLocal(probes: readonly ProbeSpec[], obs: UnitObservation): boolean {
  if (!listensOnNonLoopback(obs)) return false;
  return probes.every((p) => {
    if (p.kind === 'exec') return true;
    const host = probeHost(p)?.toLowerCase();
    return host !== undefined && (host === 'localhost' || host.endsWith('.localhost') || isLoopback(host));
  });
}

function probePort(p: ProbeSpec): number | undefined {
  if (p.kind === 'tcp') return p.port;
  if (p.kind !== 'http') return undefined;
  try {
    const u = new URL(p.url);
    return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  } catch {
    return undefined;
  }
}

/**
 * TCP listeners no http/tcp probe connects to (matched by port). An exec probe is taken to reach
 * none: `redis-cli -s SOCKET`, `pg_isready -h /run/postgresql` and `mysqladmin ping` go through a
 * Unix socket, and then nothing a trial checks notices that TCP clients are cut off.
 */
export function unprobedListeners(probes: readonly ProbeSpec[], obs: UnitObservation): InetSocket[] {
  const ports = new Set(probes.map(probePort).filter((p) => p !== undefined));
  return listeners(obs).filter((s) => s.proto.startsWith('tcp') && !ports.has(s.local.port));
}

/**
 * What a person must read before trusting the probes, as sentences: the probes stay on loopback
 * while the unit listens beyond it (probesOnlyLocal), or no probe reaches some TCP listener at all.
 */
export function probeBlindSpots(probes: readonly ProbeSpec[], obs: UnitObservation): string[] {
  const out: string[] = [];
  if (probesOnlyLocal(probes, obs)) {
    out.push(`every probe goes through loopback or a local command, but the unit listens on ${nonLoopbackListeners(obs).map((s) => formatEndpoint(s.local)).join(', ')}: the probes cannot see what remote clients see; options that restrict reach are held back by policy`);
  }
  const unprobed = unprobedListeners(probes, obs);
  if (unprobed.length) {
    const where = unprobed.map((s) => formatEndpoint(s.local)).join(', ');
    out.push(`no http:// or tcp:// probe connects to ${where}; where an exec probe goes through a Unix socket, the trials cannot see whether TCP clients still get through, so options that cut them off are left to the safety policy`);
  }
  return out;
}

// ---- facts for the policy and the log check (the adapter only stats paths and reads /proc) ----

/** What stat says of a path the unit holds: permission bits and kind. */
export interface PathMode {
  path: string;
  mode: number;
  file: boolean;
  socket: boolean;
}

/** Paths whose mode the facts need: files the unit writes, and Unix sockets it listens on by path. */
export function pathsToStat(obs: UnitObservation): { written: string[]; sockets: string[] } {
  return { written: obs.writablePaths, sockets: obs.unix.filter((u) => u.listening && u.path.startsWith('/')).map((u) => u.path) };
}

/** The facts the safety policy decides on, and the log files read for new errors during trials.
 * `modes` holds what stat said of pathsToStat()'s paths (a path that vanished is absent); `exe`
 * is the main process's binary name ('' when unknown). */
export function observedFacts(
  obs: UnitObservation, exe: string, modes: ReadonlyMap<string, PathMode>, more: { execDirs?: string[] } = {},
): { facts: SafetyFacts; logFiles: string[] } {
  const { written: w, sockets: s } = pathsToStat(obs);
  const written = w.map((p) => modes.get(p)).filter((m) => m !== undefined);
  const sockets = s.map((p) => modes.get(p)).filter((m) => m !== undefined);
  const created = [...written.filter((m) => m.file), ...sockets.filter((m) => m.socket)];
  const facts: SafetyFacts = {
    usesInet: usesInet(obs),
    inetEndpoints: obs.inet.map((x) => `${x.proto} ${formatEndpoint(x.local)}`),
    nonLoopbackListeners: nonLoopbackListeners(obs).map((x) => formatEndpoint(x.local)),
    families: familiesInUse(obs),
    peers: peers(obs),
    sessionEvidence: obs.sessions ? sessionEvidence(obs.sessions) : [],
    sessionsStayInUnit: obs.sessions ? sessionsStayInUnit(obs.sessions) : false,
    createdModes: created.map(({ path, mode }) => ({ path, mode })),
    uids: [...new Set(obs.processes.map((p) => p.uid))].sort((a, b) => a - b),
    commands: [...new Set([exe, ...obs.processes.map((p) => p.name)].filter(Boolean))],
    writableDirs: [...new Set(written.filter((m) => m.file).map((m) => dirname(m.path)))].sort(),
    ...(obs.socketsRead === false ? {} : { listeners: listenerFacts(obs) }),
    ...(obs.fileSystems ? { fileSystems: obs.fileSystems } : {}),
    ...(more.execDirs ? { execDirs: more.execDirs } : {}),
    openCredentials: [...new Set(obs.processes.flatMap((p) => (p.files ?? []).map((x) => x.path)).filter((x) => CREDENTIAL_FILES.includes(x)))].sort(),
    ...(obs.sessions?.pamStack !== undefined && obs.sessions.pamService !== undefined ? { pamService: obs.sessions.pamService } : {}),
  };
  // Request logs are clients' text, never evidence (core/logcheck isRequestLog).
  const logFiles = written
    .filter((m) => m.file && (m.path.startsWith('/var/log/') || m.path.endsWith('.log')) && !isRequestLog(m.path))
    .map((m) => m.path);
  return { facts, logFiles };
}
