// Follows what a set of units log, as it is logged: one `journalctl --follow` for all of them
// (journald wakes it through inotify; nothing polls), restarted when the set changes; and the log
// files they write (nginx's error.log), through inotify as well.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, watch, type FSWatcher } from 'node:fs';
import { createInterface } from 'node:readline';
import { run } from './exec.js';
import { boundedLines, MAX_READ, openRegular, readAt } from './safeOpen.js';

export interface LogLine {
  unit: string;
  /** When journald received it (ms since the epoch). */
  time: number;
  message: string;
}

export class JournalFollower {
  private child: ChildProcess | undefined;
  private units: string[] = [];
  private stopped = false;

  constructor(
    private readonly onLine: (l: LogLine) => void,
    private readonly onError: (msg: string) => void = () => {},
  ) {}

  /** Follow exactly these units from now on (an empty set stops following). */
  follow(units: readonly string[]): void {
    const next = [...new Set(units)].sort();
    if (next.join('\n') === this.units.join('\n') && (this.child || next.length === 0)) return;
    this.units = next;
    this.kill();
    if (next.length && !this.stopped) this.spawn();
  }

  stop(): void {
    this.stopped = true;
    this.kill();
  }

  private kill(): void {
    const c = this.child;
    this.child = undefined;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }

  private spawn(): void {
    const args = ['--follow', '--lines=0', '--output=json', '--no-pager', '--quiet', ...this.units.map((u) => `--unit=${u}`)];
    const child = spawn('journalctl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const wanted = new Set(this.units);
    createInterface({ input: child.stdout! }).on('line', (raw) => {
      const l = parse(raw, wanted);
      if (l) this.onLine(l);
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
    child.on('error', (e) => this.onError(`journalctl: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (this.child !== child) return; // replaced or stopped on purpose
      this.child = undefined;
      this.onError(`journalctl --follow exited (${signal ?? code}): ${stderr.trim().split('\n').at(-1) ?? ''}`);
      // journald restarted or rotated under it: follow again, a little later.
      setTimeout(() => {
        if (!this.stopped && !this.child && this.units.length) this.spawn();
      }, 1000).unref();
    });
  }
}

/** A line of `journalctl -o json`, when it is the unit's own output (not systemd's about it). */
export function parse(raw: string, units: ReadonlySet<string>): LogLine | undefined {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const unit = e._SYSTEMD_UNIT;
  if (typeof unit !== 'string' || !units.has(unit) || e._PID === '1') return undefined;
  const m = e.MESSAGE;
  const message = typeof m === 'string' ? m : Array.isArray(m) ? Buffer.from(m.map(Number)).toString('utf8') : undefined;
  if (message === undefined) return undefined;
  const t = Number(e.__REALTIME_TIMESTAMP);
  return { unit, time: Number.isFinite(t) ? Math.floor(t / 1000) : Date.now(), message };
}

/** The unit's own lines (and systemd's about it) logged before `until`: the baseline of what it
 * logs when nobody tunes it. */
export async function unitLogsUntil(unit: string, until: Date, max = 1000): Promise<string[]> {
  const r = await run('journalctl', [
    '--no-pager', '-q', '-o', 'cat', '-n', String(max), '-u', unit, `--until=@${(until.getTime() / 1000).toFixed(6)}`,
  ]);
  return r.code === 0 ? r.stdout.split('\n').filter((l) => l.trim() !== '') : [];
}

interface Followed {
  unit: string;
  /** Where reading resumes, in the file pinned by device and inode (-1: none yet). */
  offset: number;
  dev: number;
  ino: number;
  watcher?: FSWatcher;
  /** Set while the path is missing or unsafe: when to look again. */
  timer?: NodeJS.Timeout;
  /** Warnings already given about this file: each is said once, not on every event. */
  warned: Set<string>;
}

const RETRY_MS = 500;

/** Follows log files by inotify (fs.watch). Lines come as "FILE: line", as the tuner's log
 * check reads them, so that errors known before tuning have the same signature. The service
 * controls these paths: every read opens through openRegular (a FIFO, a symlink or a path through
 * one is skipped and reported, never read and never waited on). While a path is missing or
 * unsafe it is not watched (fs.watch would follow a symlink) but looked at again every RETRY_MS. */
export class FileFollower {
  private readonly files = new Map<string, Followed>();

  constructor(
    private readonly onLine: (l: LogLine) => void,
    private readonly onError: (msg: string) => void = () => {},
  ) {}

  /** Follow exactly these files of `unit` from their current end (an empty list stops). */
  follow(unit: string, files: readonly string[]): void {
    for (const [f, e] of this.files) {
      if (e.unit === unit && !files.includes(f)) {
        this.unwatch(e);
        this.files.delete(f);
      }
    }
    for (const f of files) {
      if (this.files.has(f)) continue;
      const e: Followed = { unit, offset: 0, dev: -1, ino: -1, warned: new Set() };
      const o = openRegular(f, (m) => this.warn(e, m));
      if (o) {
        closeSync(o.fd);
        Object.assign(e, { offset: o.size, dev: o.dev, ino: o.ino });
      }
      this.files.set(f, e);
      this.watch(f, e);
    }
  }

  stop(): void {
    for (const e of this.files.values()) this.unwatch(e);
    this.files.clear();
  }

  private warn(e: Followed, msg: string): void {
    if (e.warned.has(msg)) return;
    e.warned.add(msg);
    this.onError(msg);
  }

  private unwatch(e: Followed): void {
    e.watcher?.close();
    e.watcher = undefined;
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
  }

  private later(f: string, e: Followed): void {
    this.unwatch(e);
    e.timer = setTimeout(() => {
      e.timer = undefined;
      this.watch(f, e);
    }, RETRY_MS).unref();
  }

  private watch(f: string, e: Followed): void {
    if (this.files.get(f) !== e) return; // no longer followed
    if (!this.read(f, e)) return this.later(f, e);
    try {
      e.watcher = watch(f, { persistent: true }, (event) => {
        // The watched inode moved away or was removed: whatever is at the path next is another
        // file (even if the inode number is reused), read from its start.
        if (event === 'rename') e.ino = -1;
        if (!this.read(f, e) || event === 'rename') this.later(f, e);
      });
      e.watcher.on('error', () => this.later(f, e));
    } catch (err) {
      this.warn(e, `cannot follow ${f}: ${(err as Error).message}`);
      return this.later(f, e);
    }
    // Swapped between the look and the watch, the watch may be on a symlink's target: look again.
    if (!this.read(f, e)) this.later(f, e);
  }

  /** Reads what is new; false when the path is missing or not a regular file of its own. */
  private read(f: string, e: Followed): boolean {
    const o = openRegular(f, (m) => this.warn(e, m));
    if (!o) return false;
    try {
      if (o.dev !== e.dev || o.ino !== e.ino || o.size < e.offset) {
        Object.assign(e, { offset: 0, dev: o.dev, ino: o.ino }); // rotated, new or truncated
      }
      const buf = readAt(o.fd, e.offset, o.size - e.offset);
      // Up to the last newline: a line still being written is read whole next time (unless it
      // alone fills a whole read: then it is cut, and boundedLines cuts it further).
      const end = buf.lastIndexOf(0x0a);
      if (buf.length === 0 || (end < 0 && buf.length < MAX_READ)) return true;
      const upto = end < 0 ? buf.length : end + 1;
      e.offset += upto;
      const now = Date.now();
      for (const line of boundedLines(buf.subarray(0, upto).toString('utf8'))) {
        this.onLine({ unit: e.unit, time: now, message: `${f}: ${line}` });
      }
    } catch (err) {
      this.warn(e, `${f}: ${(err as Error).message}; not read`);
    } finally {
      closeSync(o.fd);
    }
    return true;
  }
}
