// Reads and writes autoharden's own drop-ins, as root, in directories it does not own. A file is
// ours only if it carries the marker AND is byte for byte what autoharden wrote there: the sha256
// of every drop-in it writes is recorded in the state directory before the file is renamed into
// place. Anything else (a foreign file, one someone edited, a symlink, a symlinked UNIT.d) is
// refused with a one-line error and left as it is.
import { createHash } from 'node:crypto';
import {
  closeSync, constants as C, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, unlinkSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { ACCEPTED_FILE, TRIAL_FILE, isOurs, renderDropIn } from '../core/dropin.js';
import { AutohardenError, stateWriteError } from '../core/errors.js';
import type { Setting } from '../core/types.js';
import { fsyncDir, writeFileDurable } from './fsutil.js';

export type Where = 'run' | 'etc';

export interface DropInDirs {
  run: string; // /run/systemd/system
  etc: string; // /etc/systemd/system
}

export const SYSTEM_DIRS: DropInDirs = { run: '/run/systemd/system', etc: '/etc/systemd/system' };

/** Per drop-in path, the hashes autoharden accepts as its own there: what it last meant to write
 * and what was there before (also ours). A crash between recording and renaming still finds
 * either on disk. */
type Written = Record<string, string[]>;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';
const refuse = (msg: string): AutohardenError => new AutohardenError('Failed', msg);

/** What the unit's journal says autoharden wrote into `file` (rendered texts): a file with no
 * record in the registry (written before the registry existed) is ours when it is one of them. */
export type JournalSays = (unit: string, file: string) => string[];

export class DropIns {
  constructor(
    private readonly stateDir: string,
    private readonly dirs: DropInDirs = SYSTEM_DIRS,
    private readonly journalSays: JournalSays = () => [],
  ) {}

  path(unit: string, where: Where, file: string): string {
    if (!unit || unit.includes('/') || unit.startsWith('.')) throw new AutohardenError('Usage', `bad unit name: ${JSON.stringify(unit)}`);
    return join(this.dirs[where], `${unit}.d`, file);
  }

  /** The unit's drop-in directory; undefined when absent (and not asked to create it). A symlink
   * or anything but a directory is refused: root would write wherever it points. */
  private unitDir(unit: string, where: Where, create: boolean): string | undefined {
    const dir = dirname(this.path(unit, where, 'x'));
    try {
      const st = lstatSync(dir);
      if (st.isSymbolicLink()) throw refuse(`${dir} is a symlink; refusing to touch drop-ins through it`);
      if (!st.isDirectory()) throw refuse(`${dir} is not a directory; refusing to touch it`);
      return dir;
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
    if (!create) return undefined;
    mkdirSync(this.dirs[where], { recursive: true, mode: 0o755 });
    mkdirSync(dir, { mode: 0o755 });
    return dir;
  }

  /** The file's bytes, undefined when absent; a symlink or a non-regular file is refused. */
  private readFile(path: string): Buffer | undefined {
    let fd: number;
    try {
      if (!lstatSync(path).isFile()) throw refuse(`${path} is a symlink or not a regular file; refusing to touch it`);
      fd = openSync(path, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY);
    } catch (e) {
      if (isMissing(e)) return undefined;
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw refuse(`${path} is a symlink; refusing to touch it`);
      throw e;
    }
    try {
      if (!fstatSync(fd).isFile()) throw refuse(`${path} is not a regular file; refusing to touch it`);
      return readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  private registryPath(unit: string): string {
    this.path(unit, 'run', 'x'); // validates the name
    return join(this.stateDir, 'written', `${unit}.json`);
  }

  private readRegistry(unit: string): Written {
    const p = this.registryPath(unit);
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch (e) {
      if (isMissing(e)) return {};
      throw e;
    }
    try {
      const v = JSON.parse(text) as unknown;
      if (typeof v === 'object' && v && !Array.isArray(v) && Object.values(v).every((h) => Array.isArray(h) && h.every((x) => typeof x === 'string'))) {
        return v as Written;
      }
    } catch {
      /* reported below */
    }
    throw refuse(`${p} is not a record of the drop-ins autoharden wrote; refusing to touch ${unit}'s drop-ins`);
  }

  private saveRegistry(unit: string, w: Written): void {
    const p = this.registryPath(unit);
    try {
      mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
      writeFileDurable(p, `${JSON.stringify(w, null, 2)}\n`, 0o600);
    } catch (e) {
      throw stateWriteError(p, 'the drop-in registry', e);
    }
  }

  /** The hash of the file at `path` when it is ours; undefined when there is none; refused when
   * it is someone else's. */
  private ourHash(path: string, reg: Written, unit: string): string | undefined {
    const bytes = this.readFile(path);
    if (bytes === undefined) return undefined;
    const text = bytes.toString('utf8');
    if (!isOurs(text)) throw refuse(`${path} exists and was not written by autoharden; refusing to touch it`);
    const h = sha256(bytes);
    const adopted = reg[path] === undefined && this.journalSays(unit, path.slice(path.lastIndexOf('/') + 1)).includes(text);
    if (!adopted && !reg[path]?.includes(h)) {
      throw refuse(`${path} carries autoharden's marker but is not what autoharden wrote (edited by someone else?); refusing to touch it`);
    }
    return h;
  }

  private write(unit: string, where: Where, file: string, text: string): string {
    const path = join(this.unitDir(unit, where, true)!, file);
    const reg = this.readRegistry(unit);
    const before = this.ourHash(path, reg, unit);
    const h = sha256(Buffer.from(text, 'utf8'));
    // Recorded before the rename, with what is there now: a crash in between recognises either.
    reg[path] = before && before !== h ? [h, before] : [h];
    this.saveRegistry(unit, reg);
    writeFileDurable(path, text);
    return path;
  }

  /** Removes our file; returns whether something was removed. */
  private remove(unit: string, where: Where, file: string): boolean {
    const dir = this.unitDir(unit, where, false);
    if (!dir) return false;
    const path = join(dir, file);
    const reg = this.readRegistry(unit);
    if (this.ourHash(path, reg, unit) === undefined) return false;
    unlinkSync(path);
    fsyncDir(dir);
    // Forgotten only after the unlink: a crash in between leaves a stale hash, never a file of
    // ours that is no longer recognised.
    delete reg[path];
    try {
      this.saveRegistry(unit, reg);
    } catch {
      // A full or read-only state directory keeps the stale hash (harmless, as above); removing a
      // trial on an error path must still go on to reload and restart the unit (I1).
    }
    if (readdirSync(dir).length === 0) rmdirSync(dir); // we created it; leave no empty UNIT.d behind
    return true;
  }

  /** Whether anything (even a symlink) is at the file's name. */
  private present(unit: string, where: Where, file: string): boolean {
    const dir = this.unitDir(unit, where, false);
    if (!dir) return false;
    try {
      lstatSync(join(dir, file));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  writeTrial(unit: string, settings: readonly Setting[], observe: readonly string[] = []): string {
    return this.write(unit, 'run', TRIAL_FILE, renderDropIn(unit, settings, 'trial', observe));
  }

  removeTrial(unit: string): boolean {
    return this.remove(unit, 'run', TRIAL_FILE);
  }

  hasTrial(unit: string): boolean {
    return this.present(unit, 'run', TRIAL_FILE);
  }

  /** Where the accepted set lives now: /etc once persisted (it masks /run), else /run. */
  acceptedWhere(unit: string): Where | undefined {
    if (this.present(unit, 'etc', ACCEPTED_FILE)) return 'etc';
    if (this.present(unit, 'run', ACCEPTED_FILE)) return 'run';
    return undefined;
  }

  /** Writes the accepted set to one place and removes it from the other: never keep both.
   * An empty set removes the file. */
  writeAccepted(unit: string, settings: readonly Setting[], where: Where): string | undefined {
    const other: Where = where === 'etc' ? 'run' : 'etc';
    if (settings.length === 0) {
      this.remove(unit, where, ACCEPTED_FILE);
      this.remove(unit, other, ACCEPTED_FILE);
      return undefined;
    }
    const p = this.write(unit, where, ACCEPTED_FILE, renderDropIn(unit, settings, 'accepted'));
    this.remove(unit, other, ACCEPTED_FILE);
    return p;
  }

  readAccepted(unit: string): string | undefined {
    const w = this.acceptedWhere(unit);
    return w ? this.readFile(this.path(unit, w, ACCEPTED_FILE))?.toString('utf8') : undefined;
  }
}
