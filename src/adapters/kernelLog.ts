// Seccomp records from the kernel log ring (/dev/kmsg), read on demand: mark() before a window,
// since(mark) after it. Each call opens the device, reads it through without blocking and closes
// it again: no background reader, no descriptor kept. core/seccompLog.ts parses (and rejects
// records a process wrote to /dev/kmsg).
//
// Each read() of /dev/kmsg returns one record (kernel/printk/printk.c devkmsg_read); EAGAIN when
// none is left (O_NONBLOCK); EPIPE when the next record was overwritten (the reader skips on);
// EINVAL when a record does not fit the buffer (skipped as well).
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { parseKmsg, scanWindow, type KernelLogWindow, type SeccompRecord } from '../core/seccompLog.js';

export interface KernelLog {
  /** Seccomp actions the kernel logs (/proc/sys/kernel/seccomp/actions_logged, e.g. kill_process,
   * log); SystemCallLog= records need "log". Empty when unreadable. */
  actionsLogged: readonly string[];
  /** The sequence number of the last record now (-1 for an empty ring). Throws when the log cannot be read. */
  mark(): number;
  /** The seccomp records written by the kernel after `mark`. */
  since(mark: number): SeccompRecord[];
  /** The same, with the evidence that some of the window's records are missing. Never throws. */
  scan(mark: number): KernelLogWindow;
}

export type KernelLogOpen = KernelLog | { unavailable: string };

export interface KernelLogOptions {
  /** Default /dev/kmsg. */
  device?: string;
  /** Default /proc. */
  procRoot?: string;
  /** Where auditd keeps its pid file; default /run. */
  runRoot?: string;
  /** Default: process.getuid(). */
  uid?: number;
}

/** Records read per pass at most: the ring holds log_buf_len / 32 descriptors (PRB_AVGBITS), 32768 for 1 MiB. */
const MAX_READS = 65_536;
const BUF_SIZE = 16_384; // > CONSOLE_EXT_LOG_MAX (8 KiB)

/** The kernel log, or why it cannot tell what seccomp did here. */
export function openKernelLog(opts: KernelLogOptions = {}): KernelLogOpen {
  const device = opts.device ?? '/dev/kmsg';
  const proc = opts.procRoot ?? '/proc';
  const uid = opts.uid ?? process.getuid?.();
  if (uid !== 0) return { unavailable: 'the kernel log is read as root only' };
  const auditd = auditDaemon(proc, opts.runRoot ?? '/run');
  if (auditd) return { unavailable: `an audit daemon runs (${auditd}): seccomp records go to its log (audit.log), not to the kernel log` };
  const cmdline = readText(join(proc, 'cmdline'));
  if (cmdline !== undefined && /(?:^|\s)audit=(?:0|off)(?:\s|$)/.test(cmdline)) {
    return { unavailable: 'auditing is off (audit=0 on the kernel command line): seccomp writes no records' };
  }
  try {
    closeSync(openSync(device, constants.O_RDONLY | constants.O_NONBLOCK));
  } catch (e) {
    return { unavailable: `${device} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  const actionsLogged = (readText(join(proc, 'sys/kernel/seccomp/actions_logged')) ?? '').split(/\s+/).filter(Boolean);
  const scan = (mark: number): KernelLogWindow => {
    const raws: string[] = [];
    let pass: Pass;
    try {
      pass = readRing(device, (raw) => raws.push(raw));
    } catch (e) {
      const w = scanWindow(raws, mark);
      return { ...w, incomplete: [...w.incomplete, `the kernel log could not be read: ${(e as Error).message}`] };
    }
    const w = scanWindow(raws, mark, pass.overwritten);
    return pass.truncated ? { ...w, incomplete: [...w.incomplete, `reading stopped after ${MAX_READS} records`] } : w;
  };
  return {
    actionsLogged,
    mark() {
      let last = -1;
      readRing(device, (raw) => {
        const k = parseKmsg(raw);
        if (k && k.seq > last) last = k.seq;
      });
      return last;
    },
    since: (mark) => scan(mark).records,
    scan,
  };
}

interface Pass {
  overwritten: number;
  truncated: boolean;
}

/** Every record in the ring, oldest first, to `onRecord`. */
function readRing(device: string, onRecord: (raw: string) => void): Pass {
  const fd = openSync(device, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.allocUnsafe(BUF_SIZE);
  let overwritten = 0;
  try {
    for (let i = 0; i < MAX_READS; i++) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, BUF_SIZE, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return { overwritten, truncated: false };
        if (code === 'EPIPE') {
          overwritten++;
          continue;
        }
        if (code === 'EINVAL' || code === 'EINTR') continue;
        throw e;
      }
      if (n === 0) return { overwritten, truncated: false };
      onRecord(buf.toString('latin1', 0, n)); // the kernel escapes bytes ≥ 127: ASCII
    }
    return { overwritten, truncated: true };
  } finally {
    closeSync(fd);
  }
}

/** "auditd (pid N)" when an audit daemon runs: a process named auditd, or /run/auditd.pid naming a live one. */
function auditDaemon(proc: string, run: string): string | undefined {
  let entries: string[] = [];
  try {
    entries = readdirSync(proc).filter((d) => /^\d+$/.test(d));
  } catch { /* no /proc: nothing to see */ }
  for (const pid of entries) {
    if (readText(join(proc, pid, 'comm'))?.trim() === 'auditd') return `auditd, pid ${pid}`;
  }
  const pidFile = readText(join(run, 'auditd.pid'))?.trim();
  if (pidFile && /^\d+$/.test(pidFile) && existsSync(join(proc, pidFile))) return `auditd, pid ${pidFile} (${join(run, 'auditd.pid')})`;
  return undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
