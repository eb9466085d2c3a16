// Whole unit files of autoharden's own (the sandbox check unit) under /run/systemd/system: runtime
// only, named zz-autoharden-*, first line the marker; anything else at that path is never touched.
import { lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CHECK_UNIT_PREFIX } from '../core/sandboxCheck.js';
import { isOurs } from '../core/dropin.js';
import { AutohardenError } from '../core/errors.js';
import { fsyncDir, writeFileDurable } from './fsutil.js';

export class RuntimeUnitFiles {
  constructor(private readonly dir = '/run/systemd/system') {}

  private path(name: string): string {
    if (!name.startsWith(CHECK_UNIT_PREFIX) || !/^[a-z0-9-]+\.service$/.test(name)) {
      throw new AutohardenError('Failed', `refusing to write unit file ${JSON.stringify(name)}: not one of autoharden's names`);
    }
    return join(this.dir, name);
  }

  /** Refuses a path that is a symlink or a file someone else wrote. */
  private assertOursOrAbsent(p: string): boolean {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return false;
    }
    if (!st.isFile() || !isOurs(readFileSync(p, 'utf8'))) {
      throw new AutohardenError('Failed', `${p} exists and was not written by autoharden; refusing to touch it`);
    }
    return true;
  }

  write(name: string, text: string): void {
    const p = this.path(name);
    this.assertOursOrAbsent(p);
    writeFileDurable(p, text);
  }

  remove(name: string): void {
    const p = this.path(name);
    if (!this.assertOursOrAbsent(p)) return;
    unlinkSync(p);
    fsyncDir(this.dir);
  }
}
