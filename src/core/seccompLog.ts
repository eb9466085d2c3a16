// Seccomp audit records read from the kernel log (/dev/kmsg), without auditd: which system calls a
// filter logged (SystemCallLog=) or killed a process for. Pure; adapters/kernelLog.ts reads.
//
// Trust: a root service can write to /dev/kmsg and so forge any message text. It cannot forge the
// facility: devkmsg_write() in kernel/printk/printk.c starts from `int facility = 1; /* LOG_USER */`
// and takes the one of a "<N>" prefix only `if (LOG_FACILITY(u) != 0)`, so facility 0 (LOG_KERN) is
// the kernel's own; the record header prints (facility << 3) | level, facility a u8. Only records
// with PRIO >> 3 === 0 are accepted. The kernel escapes control characters, bytes ≥ 127 and "\" in
// the text as \xNN (msg_add_ext_text), so a text cannot start a record of its own; audit quotes
// comm and exe only when they hold no space, quote or control character and hex-encodes them
// otherwise (audit_log_untrustedstring), so neither value contains a space.
//
// Format (kernel/auditsc.c audit_log_task + audit_seccomp, unchanged since 4.14):
//   audit: type=1326 audit(SEC.MS:SERIAL): auid=… uid=… gid=… ses=…[ subj=…] pid=TGID comm=… exe=…
//     sig=N arch=HEX syscall=N compat=0|1 ip=0xHEX code=0xHEX
// pid is the thread group id in the initial pid namespace: inside a container it is not the pid
// the container sees, hence attribution by executable too.
import { syscallName } from './syscallNames.js';

export type SeccompAction = 'kill-process' | 'kill-thread' | 'log' | 'errno' | 'trap' | 'other';

export interface SeccompRecord {
  /** Sequence number of the kernel log record. */
  seq: number;
  /** Thread group id in the initial pid namespace (the machine's pid, not a container's). */
  pid: number;
  comm: string;
  /** The process's executable; undefined when the kernel printed none (exe=(null), <too_long>). */
  exe: string | undefined;
  /** The call's name; undefined when this arch's table does not know the number. */
  syscall: string | undefined;
  /** The call's number as the kernel printed it. */
  nr: number;
  /** Audit arch, lower-case hex: c000003e x86_64, 40000003 i386, c00000b7 aarch64. */
  arch: string;
  action: SeccompAction;
  /** The filter's full return value (code=0x…): action in the high 16 bits, data (errno) in the low. */
  code: number;
  /** Signal the process got (31 SIGSYS when killed), 0 for none. */
  signal: number;
  /** When the call happened, ms since the epoch (audit(SEC.MS:…)). */
  auditTime: number;
  /** Audit event serial (audit(…:SERIAL)). */
  serial: number;
}

/** One /dev/kmsg record: "PRIO,SEQ,TS_USEC,FLAGS[,more];TEXT\n" plus " KEY=VALUE\n" lines. */
export interface KmsgRecord {
  facility: number;
  level: number;
  seq: number;
  tsUsec: number;
  /** Message text, still escaped (\xNN). */
  text: string;
  /** Continuation lines (device properties), without their leading space. */
  dict: string[];
}

const MAX_RECORD = 16_384; // the kernel's records are at most CONSOLE_EXT_LOG_MAX (8 KiB)
const HEADER = /^(\d{1,4}),(\d{1,16}),(\d{1,20}),[^;]*$/;

/** A raw /dev/kmsg record (one read's worth); undefined when malformed. */
export function parseKmsg(raw: string): KmsgRecord | undefined {
  if (typeof raw !== 'string' || raw.length > MAX_RECORD) return undefined;
  const body = raw.endsWith('\n') ? raw.slice(0, -1) : raw;
  const semi = body.indexOf(';');
  if (semi < 0) return undefined;
  const h = HEADER.exec(body.slice(0, semi));
  if (!h) return undefined;
  const [first, ...rest] = body.slice(semi + 1).split('\n');
  if (rest.some((l) => !l.startsWith(' '))) return undefined; // the kernel escapes newlines in text
  const prio = Number(h[1]);
  const seq = Number(h[2]);
  const tsUsec = Number(h[3]);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(tsUsec)) return undefined;
  return { facility: prio >> 3, level: prio & 7, seq, tsUsec, text: first!, dict: rest.map((l) => l.slice(1)) };
}

/** Split a dump of consecutive records (as `cat /dev/kmsg` prints them) into raw records. */
export function splitKmsg(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith(' ') && out.length) out[out.length - 1] += `\n${line}`;
    else out.push(line);
  }
  return out;
}

const SECCOMP = /^audit: type=1326 audit\((\d{1,12})\.(\d{3}):(\d{1,10})\): (.*)$/;
// Anchored at the end: comm and exe hold no space, so " pid=" is found from the end and anything an
// LSM label (subj=) holds before it cannot shift the fields.
const FIELDS = new RegExp(
  '^auid=\\d{1,10} uid=\\d{1,10} gid=\\d{1,10} ses=\\d{1,10}(?: .*)? pid=(\\d{1,10}) comm=(\\S{1,512}) exe=(\\S{1,8192}) ' +
    'sig=(\\d{1,3}) arch=([0-9a-f]{1,8}) syscall=(-?\\d{1,10}) compat=[01] ip=0x[0-9a-f]{1,16} code=0x([0-9a-f]{1,8})$',
);

/** A seccomp record from a raw kmsg record or a parsed one; undefined unless the kernel wrote it
 * (facility 0) and it is a well-formed type=1326 audit record. */
export function parseSeccompRecord(raw: string | KmsgRecord): SeccompRecord | undefined {
  const k = typeof raw === 'string' ? parseKmsg(raw) : raw;
  if (!k || k.facility !== 0) return undefined;
  const m = SECCOMP.exec(k.text);
  if (!m) return undefined;
  const f = FIELDS.exec(m[4]!);
  if (!f) return undefined;
  const comm = auditString(f[2]!);
  const exe = auditString(f[3]!);
  if (comm === undefined || exe === undefined) return undefined;
  const pid = Number(f[1]);
  const nr = Number(f[6]);
  const code = parseInt(f[7]!, 16);
  const arch = f[5]!.padStart(8, '0');
  return {
    seq: k.seq,
    pid,
    comm,
    exe: exe.startsWith('/') ? exe : undefined, // (null), <no_memory>, <too_long>
    syscall: syscallName(arch, nr),
    nr,
    arch,
    action: actionOf(code),
    code,
    signal: Number(f[4]),
    auditTime: Number(m[1]) * 1000 + Number(m[2]),
    serial: Number(m[3]),
  };
}

/** include/uapi/linux/seccomp.h: SECCOMP_RET_* in the high 16 bits. */
function actionOf(code: number): SeccompAction {
  switch ((code >>> 16) << 16 >>> 0) {
    case 0x80000000: return 'kill-process';
    case 0x00000000: return 'kill-thread';
    case 0x00030000: return 'trap';
    case 0x00050000: return 'errno';
    case 0x7ffc0000: return 'log';
    default: return 'other';
  }
}

/** An audit value: "quoted" (kmsg-escaped \xNN inside) or hex; undefined when neither. */
function auditString(v: string): string | undefined {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    const inner = v.slice(1, -1);
    if (inner.includes('"')) return undefined;
    // audit hex-encodes anything outside 0x21..0x7e, so only "\" comes escaped (as \x5c)
    return inner.replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  if (/^(?:[0-9A-F]{2})+$/.test(v)) return Buffer.from(v, 'hex').toString('utf8');
  if (/^\(null\)$|^<[a-z_]+>$/.test(v)) return v;
  return undefined;
}

/** Whether a record is a kill (the filter ended the process or thread). */
export function isKill(r: SeccompRecord): boolean {
  return r.action === 'kill-process' || r.action === 'kill-thread';
}

export interface UnitIdentity {
  /** Machine pids of the unit's processes (readable from the cgroup on the machine). */
  pids?: Iterable<number>;
  /** Executables of the unit (ExecStart binaries, /proc/PID/exe of its processes). */
  exes?: Iterable<string>;
}

const DELETED = ' (deleted)';
const undeleted = (p: string) => (p.endsWith(DELETED) ? p.slice(0, -DELETED.length) : p);

/** The records of a unit: by machine pid, or by executable (the only way inside a pid namespace,
 * and for processes gone before their pids were read). Another unit running the same executable
 * is counted too. */
export function forUnit(records: readonly SeccompRecord[], unit: UnitIdentity): SeccompRecord[] {
  const pids = new Set(unit.pids ?? []);
  const exes = new Set([...(unit.exes ?? [])].map(undeleted));
  return records.filter((r) => pids.has(r.pid) || (r.exe !== undefined && exes.has(undeleted(r.exe))));
}

export interface GroupUse {
  /** Group name without "@". */
  group: string;
  /** The group's calls the records show, sorted. */
  calls: string[];
  /** Who made them: executables (comm when no exe), sorted. */
  by: string[];
}

/** The groups the recorded calls belong to (every action counts: a logged call and a killed one
 * were both made), with the calls and callers per group, sorted by group. Records whose call has no
 * name count for no group. */
export function groupsUsed(records: readonly SeccompRecord[], groups: Readonly<Record<string, readonly string[]>>): GroupUse[] {
  const out: GroupUse[] = [];
  for (const [group, members] of Object.entries(groups).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const set = new Set(members);
    const calls = new Set<string>();
    const by = new Set<string>();
    for (const r of records) {
      if (r.syscall === undefined || !set.has(r.syscall)) continue;
      calls.add(r.syscall);
      by.add(r.exe ?? r.comm);
    }
    if (calls.size) out.push({ group, calls: [...calls].sort(), by: [...by].sort() });
  }
  return out;
}

/** "setgroups, setuid by /usr/sbin/nginx" */
export function describeUse(u: GroupUse): string {
  return `${u.calls.join(', ')} by ${u.by.join(', ')}`;
}

export interface KernelLogWindow {
  /** The seccomp records after the mark, in log order. */
  records: SeccompRecord[];
  /** Why records of the window may be missing (empty when nothing shows it): records overwritten
   * before they were read, audit records dropped by the printk rate limit. A missing record is then
   * no evidence that a call was not made. Losses at the very end of a window can stay unseen. */
  incomplete: string[];
  /** The last sequence number read (the mark when nothing came after it). */
  lastSeq: number;
}

const SUPPRESSED = /^k?auditd?_printk_skb: (\d{1,10}) callbacks suppressed$/;
const LOST = /^audit: (?:printk limit exceeded|audit_lost=)/;
const AUDIT_SERIAL = /^audit: type=\d{1,5} audit\(\d{1,12}\.\d{3}:(\d{1,10})\)/;

/** The seccomp records after `mark` among raw kmsg records read in order, with any evidence of
 * loss: a sequence gap (ring overwritten; `overwritten` counts EPIPEs the reader met), suppressed or
 * lost audit output, and audit serials missing between those of the window. Non-kernel records are
 * ignored whatever they say. */
export function scanWindow(raws: Iterable<string>, mark: number, overwritten = 0): KernelLogWindow {
  const records: SeccompRecord[] = [];
  const incomplete: string[] = [];
  let prev = mark;
  let gap = 0;
  let suppressed = 0;
  let lost = 0;
  const serials = new Set<number>();
  for (const raw of raws) {
    const k = parseKmsg(raw);
    if (!k || k.seq <= mark) continue;
    if (prev >= 0 && k.seq > prev + 1) gap += k.seq - prev - 1;
    prev = Math.max(prev, k.seq);
    if (k.facility !== 0) continue;
    const s = SUPPRESSED.exec(k.text);
    if (s) suppressed += Number(s[1]);
    if (LOST.test(k.text)) lost++;
    const a = AUDIT_SERIAL.exec(k.text);
    if (a) serials.add(Number(a[1]));
    const r = parseSeccompRecord(k);
    if (r) records.push(r);
  }
  if (gap || overwritten) incomplete.push(`the kernel log ring was overwritten before ${gap ? `${gap} records` : 'some records'} after the mark were read`);
  if (suppressed) incomplete.push(`the printk rate limit suppressed ${suppressed} audit records`);
  if (lost) incomplete.push('the kernel reported lost audit records');
  const missing = missingSerials(serials);
  if (missing) incomplete.push(`${missing} audit records between those read never reached the kernel log`);
  return { records, incomplete, lastSeq: prev };
}

/** Serials absent between the lowest and highest seen (records reach the log slightly out of
 * serial order, so a set, not neighbours). Bounded: a wild range counts as one gap. */
function missingSerials(serials: ReadonlySet<number>): number {
  if (serials.size < 2) return 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of serials) {
    lo = Math.min(lo, s);
    hi = Math.max(hi, s);
  }
  if (hi - lo > 1_000_000) return 1;
  let n = 0;
  for (let s = lo + 1; s < hi; s++) if (!serials.has(s)) n++;
  return n;
}
