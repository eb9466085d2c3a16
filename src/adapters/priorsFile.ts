// The host's learnt priors: STATE_DIR/priors.json (core/learnedPriors.ts), replaced whole and
// durably like the other state files. Reading never fails a command: a file that is missing reads
// as no counts, one that is unsafe or malformed as no counts and one warning.
import { closeSync, constants as C, fstatSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stateWriteError } from '../core/errors.js';
import { docFromCounts, parsePriors, type PriorCounts } from '../core/learnedPriors.js';
import { writeFileDurable } from './fsutil.js';

/** Far above what MAX_ENTRIES entries take (some 100 bytes each, pretty-printed). */
export const MAX_PRIORS_BYTES = 2 * 1024 * 1024;

export const priorsPath = (stateDir: string): string => join(stateDir, 'priors.json');

/** The bytes of the regular file at `path` (not through a symlink planted at its name, never
 * blocking on a FIFO), at most `max`; undefined when absent; a string saying why when unreadable. */
export function readBounded(path: string, max = MAX_PRIORS_BYTES): Buffer | undefined | { why: string } {
  let fd: number;
  try {
    fd = openSync(path, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return { why: code === 'ELOOP' ? `${path} is a symlink; not read` : `${path}: ${code ?? (e as Error).message}; not read` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { why: `${path} is not a regular file; not read` };
    if (st.size > max) return { why: `${path} is larger than ${max} bytes; not read` };
    return readFileSync(fd);
  } catch (e) {
    return { why: `${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; not read` };
  } finally {
    closeSync(fd);
  }
}

export type HostPriors = { state: 'absent' | 'ok'; counts: PriorCounts } | { state: 'bad'; why: string; counts: PriorCounts };

/** The host's counts as on disk. */
export function readHostPriors(stateDir: string): HostPriors {
  const path = priorsPath(stateDir);
  const bytes = readBounded(path);
  if (bytes === undefined) return { state: 'absent', counts: new Map() };
  if (!Buffer.isBuffer(bytes)) return { state: 'bad', why: bytes.why, counts: new Map() };
  const p = parsePriors(bytes.toString('utf8'));
  return p.ok ? { state: 'ok', counts: p.counts } : { state: 'bad', why: `${path}: ${p.why}`, counts: new Map() };
}

/** Replaces the host's counts. Throws StateWriteError when the state directory refuses it. */
export function writeHostPriors(stateDir: string, counts: PriorCounts, now = new Date()): string {
  const path = priorsPath(stateDir);
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileDurable(path, `${JSON.stringify(docFromCounts(counts, now), null, 1)}\n`, 0o600);
  } catch (e) {
    throw stateWriteError(path, 'the learnt priors', e);
  }
  return path;
}
