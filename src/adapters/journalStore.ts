// One append-only JSON-lines journal per unit under the state directory; each line is fsynced
// before the action it announces is taken.
//
// A crash or a full disk can cut the last line short. Readers skip such a torn tail. The writer
// (the holder of the unit's lock) repairs it before its first append: the tail goes to a side file
// UNIT.jsonl.torn-TIME and the journal is cut back to its last complete record, so a new record is
// never glued onto a torn one and lost (I2). A bad line with records after it is corruption: read()
// and append() throw AutohardenError Config naming file and line, for this unit only (I3).
import {
  closeSync, constants as C, existsSync, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, truncateSync,
} from 'node:fs';
import { join } from 'node:path';
import { AutohardenError, stateWriteError } from '../core/errors.js';
import { recordSchema, scanJournal, type JournalRecord, type NewRecord } from '../core/journal.js';
import { appendLineDurable, fsyncDir, writeAll } from './fsutil.js';

const stderrWarn = (msg: string): void => {
  process.stderr.write(`autoharden: WARNING: ${msg}\n`);
};

export class JournalStore {
  readonly path: string;
  /** The size the file had when this instance last saw it whole and clean (after its own repair
   * or append): while it still has that size nobody else wrote to it, and no re-scan is needed. */
  private cleanSize: number | undefined;

  constructor(
    readonly stateDir: string,
    readonly unit: string,
    private readonly now: () => Date = () => new Date(),
    /** Told when a torn tail is cut off: loudly, it means a crash or a full disk happened. */
    private readonly warn: (msg: string) => void = stderrWarn,
  ) {
    // unit is validated by parseUnitName before it gets here: no "/" can reach the path.
    this.path = join(stateDir, 'journal', `${unit}.jsonl`);
  }

  exists(): boolean {
    return existsSync(this.path);
  }

  /** The records; a torn last line is skipped (not repaired: a reader may not hold the lock). */
  read(): JournalRecord[] {
    const bytes = this.load();
    return bytes ? this.scan(bytes).records : [];
  }

  /** Cuts a torn tail off, keeping its bytes in a side file (returned). Only the lock holder may
   * call it; append() does before its first write. Throws Config when the journal is corrupt. */
  repair(): string | undefined {
    const bytes = this.load();
    if (!bytes) {
      this.cleanSize = 0;
      return undefined;
    }
    const scan = this.scan(bytes);
    let side: string | undefined;
    if (scan.end < bytes.length) {
      const cut = bytes.subarray(scan.end);
      side = this.keepTorn(cut);
      let fd: number | undefined;
      try {
        fd = openSync(this.path, C.O_WRONLY | C.O_NOFOLLOW);
        ftruncateSync(fd, scan.end);
        fsyncSync(fd);
      } catch (e) {
        throw stateWriteError(this.path, 'the journal', e);
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
      const where = scan.torn ? `line ${scan.torn.line} ${scan.torn.why}` : 'torn tail';
      this.warn(`${this.path}: ${where}: cut ${cut.length} bytes off the journal (a crash or a full disk tore its last record); they are kept in ${side}`);
    }
    this.cleanSize = scan.end;
    return side;
  }

  append(rec: NewRecord): JournalRecord {
    const full = recordSchema.parse({ ...rec, t: this.now().toISOString(), unit: this.unit });
    try {
      mkdirSync(join(this.stateDir, 'journal'), { recursive: true, mode: 0o700 });
    } catch (e) {
      throw stateWriteError(this.path, 'the journal', e);
    }
    const size = this.readyToAppend();
    try {
      appendLineDurable(this.path, JSON.stringify(full));
    } catch (e) {
      // A short write leaves part of a line: take it back now, or the next append repairs it.
      this.cleanSize = undefined;
      try {
        truncateSync(this.path, size);
      } catch {
        /* read-only or gone: the torn tail waits for repair() */
      }
      throw stateWriteError(this.path, 'the journal', e);
    }
    this.cleanSize = this.size();
    return full;
  }

  /** The size the file has once it ends in a complete record: re-scanned unless this instance
   * wrote the last byte of it. */
  private readyToAppend(): number {
    const size = this.size();
    if (size === this.cleanSize) return size;
    this.repair();
    return this.size();
  }

  private size(): number {
    try {
      return lstatSync(this.path).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
  }

  private load(): Buffer | undefined {
    try {
      return readFileSync(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private scan(bytes: Uint8Array): Extract<ReturnType<typeof scanJournal>, { ok: true }> {
    const s = scanJournal(bytes);
    if (!s.ok) throw new AutohardenError('Config', `${this.path}:${s.line}: ${s.why}; this unit's journal is corrupt: fix or remove that line`);
    return s;
  }

  /** Writes the cut bytes, as they were, to a new side file (never over an older one). */
  private keepTorn(cut: Uint8Array): string {
    const stamp = this.now().toISOString().replace(/[:.]/g, '-');
    for (let n = 0; ; n++) {
      const side = `${this.path}.torn-${stamp}${n ? `-${n}` : ''}`;
      let fd: number;
      try {
        fd = openSync(side, C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_WRONLY, 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST' && n < 100) continue;
        throw stateWriteError(side, 'the torn tail of the journal to', e);
      }
      try {
        writeAll(fd, cut);
        fsyncSync(fd);
      } catch (e) {
        closeSync(fd);
        rmSync(side, { force: true });
        throw stateWriteError(side, 'the torn tail of the journal to', e);
      }
      closeSync(fd);
      fsyncDir(join(this.stateDir, 'journal'));
      return side;
    }
  }
}
