// New lines of the log files a unit writes (nginx and redis log to files, not the journal).
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export type Offsets = Record<string, number>;
const MAX_READ = 256 * 1024;

export function logOffsets(files: readonly string[]): Offsets {
  const out: Offsets = {};
  for (const f of files) {
    try {
      out[f] = statSync(f).size;
    } catch {
      out[f] = 0;
    }
  }
  return out;
}

/** Lines appended since the offsets were taken; a file that shrank was rotated: read it whole. */
export function linesSince(offsets: Offsets): string[] {
  const out: string[] = [];
  for (const [f, off] of Object.entries(offsets)) {
    try {
      const size = statSync(f).size;
      const from = size < off ? 0 : off;
      const len = Math.min(size - from, MAX_READ);
      if (len <= 0) continue;
      const buf = Buffer.alloc(len);
      const fd = openSync(f, 'r');
      try {
        readSync(fd, buf, 0, len, from);
      } finally {
        closeSync(fd);
      }
      out.push(...buf.toString('utf8').split('\n').filter((l) => l.trim() !== '').map((l) => `${f}: ${l}`));
    } catch {
      /* removed meanwhile */
    }
  }
  return out;
}

/** The tail of each file, for the baseline of errors the unit already logs. */
export function tails(files: readonly string[], bytes = 64 * 1024): string[] {
  const offsets: Offsets = {};
  for (const f of files) {
    try {
      offsets[f] = Math.max(0, statSync(f).size - bytes);
    } catch {
      /* gone */
    }
  }
  return linesSince(offsets);
}
