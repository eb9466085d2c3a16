// Follows what a set of units log, as it is logged: one `journalctl --follow` for all of them
// (journald wakes it through inotify; nothing polls), restarted when the set changes; and the log
// files they write (nginx's error.log), through inotify as well.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';
import { createInterface } from 'node:readline';
import { run } from './exec.js';

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

const MAX_READ = 256 * 1024;

interface Followed {
  unit: string;
  offset: number;
  watcher?: FSWatcher;
}

/** Follows log files by inotify (fs.watch). Lines come as "FILE: line", as the tuner's log
 * check reads them, so that errors known before tuning have the same signature. */
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
        e.watcher?.close();
        this.files.delete(f);
      }
    }
    for (const f of files) {
      if (this.files.has(f)) continue;
      const e: Followed = { unit, offset: sizeOf(f) };
      this.files.set(f, e);
      this.watch(f, e);
    }
  }

  stop(): void {
    for (const e of this.files.values()) e.watcher?.close();
    this.files.clear();
  }

  private watch(f: string, e: Followed): void {
    try {
      e.watcher = watch(f, { persistent: true }, (event) => {
        this.read(f, e);
        if (event !== 'rename') return;
        // Rotated (renamed or removed): follow the new file by that name once it is there.
        e.watcher?.close();
        e.watcher = undefined;
        setTimeout(() => {
          if (this.files.get(f) !== e) return;
          e.offset = 0;
          this.watch(f, e);
          this.read(f, e);
        }, 500).unref();
      });
      e.watcher.on('error', () => {
        e.watcher?.close();
        e.watcher = undefined;
      });
    } catch (err) {
      this.onError(`cannot follow ${f}: ${(err as Error).message}`);
    }
  }

  private read(f: string, e: Followed): void {
    let fd: number;
    try {
      fd = openSync(f, 'r');
    } catch {
      return; // gone meanwhile
    }
    try {
      const size = fstatSync(fd).size;
      if (size < e.offset) e.offset = 0; // truncated
      const len = Math.min(size - e.offset, MAX_READ);
      if (len <= 0) return;
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, e.offset);
      // Up to the last newline: a line still being written is read whole next time.
      const end = buf.lastIndexOf(0x0a);
      if (end < 0 && len < MAX_READ) return;
      const upto = end < 0 ? len : end + 1;
      e.offset += upto;
      const now = Date.now();
      for (const line of buf.subarray(0, upto).toString('utf8').split('\n')) {
        if (line.trim()) this.onLine({ unit: e.unit, time: now, message: `${f}: ${line}` });
      }
    } finally {
      closeSync(fd);
    }
  }
}

function sizeOf(f: string): number {
  try {
    const fd = openSync(f, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}
