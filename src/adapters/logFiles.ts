// New lines of the log files a unit writes (nginx and redis log to files, not the journal). The
// service controls these paths: every open goes through openRegular (regular file, no symlink,
// never blocking), and each file is pinned by device and inode between the two looks.
import { closeSync } from 'node:fs';
import type { LogOffsets } from '../engine/ports.js';
import { boundedLines, openRegular, readAt, type OpenedFile, type Warn } from './safeOpen.js';

export type Offsets = LogOffsets;

/** No file (absent or unsafe) when the offsets were taken: any file found later is new. */
const NONE = { offset: 0, dev: -1, ino: -1 };

export function logOffsets(files: readonly string[], warn?: Warn): Offsets {
  const out: Offsets = {};
  for (const f of files) {
    const o = openRegular(f, warn);
    if (!o) {
      out[f] = NONE;
      continue;
    }
    closeSync(o.fd);
    out[f] = { offset: o.size, dev: o.dev, ino: o.ino };
  }
  return out;
}

function linesFrom(f: string, o: OpenedFile, from: number, warn?: Warn): string[] {
  try {
    const buf = readAt(o.fd, from, o.size - from);
    return boundedLines(buf.toString('utf8')).map((l) => `${f}: ${l}`);
  } catch (e) {
    warn?.(`${f}: ${(e as Error).message}; not read`);
    return [];
  } finally {
    closeSync(o.fd);
  }
}

/** Lines appended since the offsets were taken. Another inode at the path is a rotated (or new)
 * file and a file that shrank was truncated: both are read from the start. A path that is no
 * longer a regular file of its own counts as gone. */
export function linesSince(offsets: Offsets, warn?: Warn): string[] {
  const out: string[] = [];
  for (const [f, m] of Object.entries(offsets)) {
    const o = openRegular(f, warn);
    if (!o) continue;
    const same = o.dev === m.dev && o.ino === m.ino && o.size >= m.offset;
    out.push(...linesFrom(f, o, same ? m.offset : 0, warn));
  }
  return out;
}

/** The tail of each file, for the baseline of errors the unit already logs. */
export function tails(files: readonly string[], bytes = 64 * 1024, warn?: Warn): string[] {
  const out: string[] = [];
  for (const f of files) {
    const o = openRegular(f, warn);
    if (o) out.push(...linesFrom(f, o, Math.max(0, o.size - bytes), warn));
  }
  return out;
}
