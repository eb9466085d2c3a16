// Reads and writes autoharden's own drop-ins; refuses to overwrite or remove any file it did not
// write (first line must be the marker).
import { existsSync, mkdirSync, readFileSync, rmdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ACCEPTED_FILE, TRIAL_FILE, isOurs, renderDropIn } from '../core/dropin.js';
import { AutohardenError } from '../core/errors.js';
import type { Setting } from '../core/types.js';
import { fsyncDir, writeFileDurable } from './fsutil.js';

export type Where = 'run' | 'etc';

export interface DropInDirs {
  run: string; // /run/systemd/system
  etc: string; // /etc/systemd/system
}

export const SYSTEM_DIRS: DropInDirs = { run: '/run/systemd/system', etc: '/etc/systemd/system' };

export class DropIns {
  constructor(private readonly dirs: DropInDirs = SYSTEM_DIRS) {}

  path(unit: string, where: Where, file: string): string {
    return join(this.dirs[where], `${unit}.d`, file);
  }

  private write(path: string, text: string): void {
    if (existsSync(path) && !isOurs(readFileSync(path, 'utf8'))) {
      throw new AutohardenError('Failed', `${path} exists and was not written by autoharden; refusing to touch it`);
    }
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o755 });
    writeFileDurable(path, text);
  }

  /** Removes our file; returns whether something was removed. */
  private remove(path: string): boolean {
    if (!existsSync(path)) return false;
    if (!isOurs(readFileSync(path, 'utf8'))) {
      throw new AutohardenError('Failed', `${path} was not written by autoharden; refusing to remove it`);
    }
    unlinkSync(path);
    const dir = join(path, '..');
    fsyncDir(dir);
    if (readdirSync(dir).length === 0) rmdirSync(dir); // we created it; leave no empty UNIT.d behind
    return true;
  }

  writeTrial(unit: string, settings: readonly Setting[]): string {
    const p = this.path(unit, 'run', TRIAL_FILE);
    this.write(p, renderDropIn(unit, settings, 'trial'));
    return p;
  }

  removeTrial(unit: string): boolean {
    return this.remove(this.path(unit, 'run', TRIAL_FILE));
  }

  hasTrial(unit: string): boolean {
    return existsSync(this.path(unit, 'run', TRIAL_FILE));
  }

  /** Where the accepted set lives now: /etc once persisted (it masks /run), else /run. */
  acceptedWhere(unit: string): Where | undefined {
    if (existsSync(this.path(unit, 'etc', ACCEPTED_FILE))) return 'etc';
    if (existsSync(this.path(unit, 'run', ACCEPTED_FILE))) return 'run';
    return undefined;
  }

  /** Writes the accepted set to one place and removes it from the other: never keep both.
   * An empty set removes the file. */
  writeAccepted(unit: string, settings: readonly Setting[], where: Where): string | undefined {
    const other: Where = where === 'etc' ? 'run' : 'etc';
    const p = this.path(unit, where, ACCEPTED_FILE);
    if (settings.length === 0) {
      this.remove(p);
      this.remove(this.path(unit, other, ACCEPTED_FILE));
      return undefined;
    }
    this.write(p, renderDropIn(unit, settings, 'accepted'));
    this.remove(this.path(unit, other, ACCEPTED_FILE));
    return p;
  }

  readAccepted(unit: string): string | undefined {
    const w = this.acceptedWhere(unit);
    return w ? readFileSync(this.path(unit, w, ACCEPTED_FILE), 'utf8') : undefined;
  }
}
