// Reads what a running unit holds from /proc and the cgroup tree, as text; core/observe.ts
// interprets it. Processes may vanish mid-read: ENOENT/ESRCH drop the piece, never the whole.
// Anything else (EACCES when not root) fails: a partial view would let the policy allow too much.
import { existsSync, readFileSync } from 'node:fs';
import { open, readFile, readdir, readlink, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AutohardenError } from '../core/errors.js';
import {
  buildObservation,
  flattenPamStack,
  parseLoginuid,
  parseProcCgroup,
  parseSocketFdLinks,
  parseStat,
  type RawNetTables,
  type RawProcess,
  type SessionInput,
  type SessionProcess,
  type UnitObservation,
} from '../core/observe.js';

export interface ProcfsOptions {
  procRoot?: string;
  /** Where ControlGroup paths are rooted; by default the first of /sys/fs/cgroup{,/unified,/systemd} holding the unit. */
  cgroupRoot?: string;
  pamRoot?: string;
}

export interface ObserveUnitOptions extends ProcfsOptions {
  /** Also look for login sessions the unit spawns (see observeSessions). */
  sessions?: { unitName: string; execStartBinary: string };
}

const gone = (e: unknown) => ['ENOENT', 'ESRCH'].includes((e as NodeJS.ErrnoException).code ?? '');

async function maybe<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (gone(e)) return undefined;
    if ((e as NodeJS.ErrnoException).code === 'EACCES') {
      throw new AutohardenError('AccessDenied', `cannot read ${(e as NodeJS.ErrnoException).path ?? 'procfs'}: run as root`);
    }
    throw e;
  }
}

const text = (path: string) => maybe(readFile(path, 'utf8'));

/** Tables a process can make large (its mappings, its mount namespace's mounts): read up to a bound. */
const TABLE_MAX = 1024 * 1024;

async function boundedText(path: string, max = TABLE_MAX): Promise<string | undefined> {
  return maybe((async () => {
    const fh = await open(path, 'r');
    try {
      // chunks as they come (many processes are read at once); a cut last line is dropped by the parsers
      const chunks: Buffer[] = [];
      for (let n = 0; n < max; ) {
        const { bytesRead, buffer } = await fh.read(Buffer.alloc(Math.min(64 * 1024, max - n)), 0, Math.min(64 * 1024, max - n), null);
        if (bytesRead === 0) break;
        chunks.push(buffer.subarray(0, bytesRead));
        n += bytesRead;
      }
      return Buffer.concat(chunks).toString('utf8');
    } finally {
      await fh.close();
    }
  })());
}

/** The device a /proc/PID/{root,cwd,exe} link leads to, as decimal major:minor (glibc's dev_t). */
async function devOf(path: string): Promise<string | undefined> {
  const st = await maybe(stat(path, { bigint: true }));
  if (!st) return undefined;
  const d = st.dev;
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}
const pidList = (s: string) => s.split('\n').filter(Boolean).map(Number);

export async function cgroupPids(dir: string): Promise<number[]> {
  const procs = await text(join(dir, 'cgroup.procs'));
  if (procs === undefined) return [];
  const subs = (await maybe(readdir(dir, { withFileTypes: true }))) ?? [];
  const nested = await Promise.all(subs.filter((d) => d.isDirectory()).map((d) => cgroupPids(join(dir, d.name))));
  return [...pidList(procs), ...nested.flat()];
}

export function cgroupDir(cgroupPath: string, root: string | undefined): string | undefined {
  const roots = root ? [root] : ['/sys/fs/cgroup', '/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd'];
  return roots.map((r) => join(r, cgroupPath)).find((d) => existsSync(join(d, 'cgroup.procs')));
}

async function readProcess(proc: string, pid: number): Promise<(RawProcess & { netns?: string }) | undefined> {
  const dir = join(proc, String(pid));
  const status = await text(join(dir, 'status'));
  if (status === undefined) return undefined;
  const names = (await maybe(readdir(join(dir, 'fd')))) ?? [];
  const fds = await Promise.all(
    names.map(async (n) => {
      const link = await maybe(readlink(join(dir, 'fd', n)));
      // Only paths need their flags (write mode) and owner and mode (capsObserved.ts); sockets
      // are matched by inode. stat follows the fd itself, so a renamed or deleted file is still it.
      if (!link?.startsWith('/')) return link === undefined ? [] : [{ link }];
      const [fdinfo, st] = await Promise.all([text(join(dir, 'fdinfo', n)), maybe(stat(join(dir, 'fd', n)))]);
      return [{ link, fdinfo, ...(st ? { stat: { uid: st.uid, gid: st.gid, mode: st.mode } } : {}) }];
    }),
  );
  const [cgroup, loginuid, cwd, netns, mntns, exe, maps, ...devs] = await Promise.all([
    text(join(dir, 'cgroup')),
    text(join(dir, 'loginuid')),
    maybe(readlink(join(dir, 'cwd'))),
    maybe(readlink(join(dir, 'ns', 'net'))),
    maybe(readlink(join(dir, 'ns', 'mnt'))),
    maybe(readlink(join(dir, 'exe'))),
    boundedText(join(dir, 'maps')),
    ...['root', 'cwd', 'exe'].map((l) => devOf(join(dir, l))),
  ]);
  return {
    pid, status, cgroup, loginuid, cwd, fds: fds.flat(), netns,
    mntns: mntns ?? `pid:${pid}`, maps, devs: devs.filter((d) => d !== undefined), ...(exe ? { exe } : {}),
  };
}

async function readNetTables(proc: string, pid: number): Promise<RawNetTables | undefined> {
  const keys = ['tcp', 'tcp6', 'udp', 'udp6', 'unix', 'netlink', 'packet'] as const;
  const texts = await Promise.all(keys.map((k) => text(join(proc, String(pid), 'net', k))));
  if (texts.every((t) => t === undefined)) return undefined;
  return Object.fromEntries(keys.map((k, i) => [k, texts[i]])) as RawNetTables;
}

/**
 * Everything the unit's processes hold: sockets (matched to the tables of their own network
 * namespace, never the reader's), files open for writing, cwd, ids and capabilities.
 * cgroupPath is the unit's ControlGroup property, read in the same cgroup namespace as systemd's.
 */
export async function observeUnit(mainPid: number, cgroupPath: string, opts: ObserveUnitOptions = {}): Promise<UnitObservation> {
  const proc = opts.procRoot ?? '/proc';
  const warnings: string[] = [];
  const dir = cgroupPath ? cgroupDir(cgroupPath, opts.cgroupRoot) : undefined;
  let pids = dir ? await cgroupPids(dir) : [];
  if (!pids.length && mainPid > 0) {
    warnings.push(`cgroup ${cgroupPath || '(none)'} unreadable or empty; observed the main process only`);
    pids = [mainPid];
  }
  const read = (await Promise.all([...new Set(pids)].map((p) => readProcess(proc, p)))).filter((p) => p !== undefined);
  if (!read.length) throw new AutohardenError('UnitUnknown', `unit has no running process to observe (main PID ${mainPid})`);
  // One table set per network namespace, read through a member process.
  const byNs = new Map<string, number>();
  for (const p of [...read].sort((a, b) => Number(b.pid === mainPid) - Number(a.pid === mainPid))) {
    if (!byNs.has(p.netns ?? `pid:${p.pid}`)) byNs.set(p.netns ?? `pid:${p.pid}`, p.pid);
  }
  const net = (await Promise.all([...byNs.values()].map((p) => readNetTables(proc, p)))).filter((t) => t !== undefined);
  // One mount table per mount namespace, read through a member process.
  const byMnt = new Map<string, number>();
  for (const p of read) if (!byMnt.has(p.mntns!)) byMnt.set(p.mntns!, p.pid);
  const mountinfo: Record<string, string> = {};
  for (const [ns, pid] of byMnt) {
    const t = await boundedText(join(proc, String(pid), 'mountinfo'));
    if (t !== undefined) mountinfo[ns] = t;
  }
  const sessions = opts.sessions
    ? await observeSessions(mainPid, opts.sessions.unitName, opts.sessions.execStartBinary, { ...opts, roots: read.map((p) => p.pid) })
    : undefined;
  return buildObservation({ mainPid, processes: read.map(({ netns: _, ...p }) => p), net, sessions, warnings, mountinfo });
}

/**
 * The unit's processes (roots; default the main PID) and every descendant by the ppid chain,
 * including those moved to another cgroup (a login session's scope), plus the PAM stack of the
 * service: /etc/pam.d/<binary name>, else /etc/pam.d/<unit name without suffix or instance>.
 */
export async function observeSessions(
  mainPid: number,
  unitName: string,
  execStartBinary: string,
  opts: ProcfsOptions & { roots?: number[] } = {},
): Promise<SessionInput> {
  const proc = opts.procRoot ?? '/proc';
  const entries = ((await maybe(readdir(proc))) ?? []).filter((n) => /^\d+$/.test(n));
  const stats = (await Promise.all(entries.map((n) => text(join(proc, n, 'stat'))))).flatMap((s) => {
    const st = s === undefined ? undefined : parseStat(s);
    return st ? [st] : [];
  });
  const children = new Map<number, number[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  const comm = new Map(stats.map((s) => [s.pid, s]));
  const seen = new Set<number>();
  const queue = [...(opts.roots ?? [mainPid])];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    if (seen.has(pid) || !comm.has(pid)) continue;
    seen.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  const processes = (
    await Promise.all(
      [...seen].map(async (pid): Promise<SessionProcess | undefined> => {
        const [cg, lu] = await Promise.all([text(join(proc, String(pid), 'cgroup')), text(join(proc, String(pid), 'loginuid'))]);
        if (cg === undefined) return undefined;
        const st = comm.get(pid)!;
        return { pid, ppid: st.ppid, comm: st.comm, cgroup: parseProcCgroup(cg), loginuid: parseLoginuid(lu) };
      }),
    )
  ).filter((p) => p !== undefined);
  const unitLoginuid = parseLoginuid(await text(join(proc, String(mainPid), 'loginuid')));
  return { unitLoginuid, processes, ...readPam(opts.pamRoot ?? '/etc/pam.d', unitName, execStartBinary) };
}

function readPam(root: string, unitName: string, execStartBinary: string): Pick<SessionInput, 'pamService' | 'pamStack'> {
  const lookup = (name: string) => {
    try {
      return readFileSync(join(root, name), 'utf8');
    } catch (e) {
      if (gone(e) || (e as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
      throw e;
    }
  };
  const stem = unitName.replace(/\.[a-z]+$/, '').replace(/@.*$/, '');
  for (const name of new Set([basename(execStartBinary), stem])) {
    const pamStack = flattenPamStack(name, lookup);
    if (pamStack !== undefined) return { pamService: name, pamStack };
  }
  return {};
}

/** The lowest port an unprivileged process may bind (/proc/sys/net/ipv4/ip_unprivileged_port_start,
 * of the reader's network namespace); the kernel's default, 1024, when it cannot be read. */
export function unprivilegedPortStart(procRoot = '/proc'): number {
  try {
    const t = readFileSync(join(procRoot, 'sys/net/ipv4/ip_unprivileged_port_start'), 'utf8').trim();
    return /^\d{1,5}$/.test(t) ? Number(t) : 1024;
  } catch {
    return 1024;
  }
}

/** Socket inodes the service manager (PID 1) holds: sockets systemd bound and passes to services
 * (socket activation, the fd store). Empty when they cannot be read. */
export async function managerSockets(procRoot = '/proc'): Promise<Set<number>> {
  const dir = join(procRoot, '1', 'fd');
  try {
    const links = await Promise.all((await readdir(dir)).map((n) => readlink(join(dir, n)).catch(() => '')));
    return new Set(parseSocketFdLinks(links));
  } catch {
    return new Set();
  }
}

/** /proc/sys/kernel/cap_last_cap, or undefined when it cannot be read. */
export function capLastCap(procRoot = '/proc'): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(join(procRoot, 'sys/kernel/cap_last_cap'), 'utf8'), 10);
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
