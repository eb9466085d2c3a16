// File-system looks for learned ReadWritePaths: where a directory really is, and whether anything
// in it changed during a trial. Read-only; never follows a symlink below the directory, and
// bounded so a huge or hostile tree cannot stall the daemon.
import { lstatSync, opendirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The directory with every symlink resolved; undefined when it does not exist or is no directory. */
export function realDir(path: string): string | undefined {
  try {
    const real = realpathSync.native(path);
    return statSync(real).isDirectory() ? real : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the directory or an entry below it (at most `depth` levels, `limit` entries, lstat
 * only) was modified or changed at or after `since`. A directory's mtime moves when an entry is
 * created, removed or renamed in it, so depth d sees files created at depth d + 1. */
export function changedSince(dir: string, since: Date, limit = 1000, depth = 4): boolean {
  const t = since.getTime();
  const queue: Array<[string, number]> = [[dir, 0]];
  let seen = 0;
  for (let next = queue.shift(); next && seen < limit; next = queue.shift()) {
    const [path, level] = next;
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    seen++;
    if (Math.max(st.mtimeMs, st.ctimeMs) >= t) return true;
    if (!st.isDirectory() || level >= depth) continue;
    try {
      const d = opendirSync(path);
      try {
        for (let e = d.readSync(); e && seen + queue.length < limit; e = d.readSync()) queue.push([join(path, e.name), level + 1]);
      } finally {
        d.closeSync();
      }
    } catch {
      /* unreadable or gone: nothing seen there */
    }
  }
  return false;
}
