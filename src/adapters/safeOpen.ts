// Opening a file a (possibly hostile) service writes, from a root process that can read any file:
// only a regular file, at exactly the path asked for (no symlink in any component: a log
// directory swapped for a link to /etc must not be read through), and never blocking (a FIFO with
// no writer would freeze the daemon's event loop). Read through the descriptor, never the path.
import { closeSync, constants as C, fstatSync, lstatSync, openSync, readlinkSync, readSync, type Stats } from 'node:fs';

export type Warn = (message: string) => void;

export interface OpenedFile {
  fd: number;
  dev: number;
  ino: number;
  size: number;
}

/** Bytes read from a file per call, and characters kept per line: a hostile giant line costs
 * bounded memory. */
export const MAX_READ = 256 * 1024;
export const MAX_LINE = 4096;

const FLAGS = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;

function kind(s: Stats): string {
  if (s.isFIFO()) return 'a FIFO';
  if (s.isDirectory()) return 'a directory';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** The open file, or undefined: silently when it is absent, through `warn` when it is unsafe. */
export function openRegular(path: string, warn: Warn = () => {}): OpenedFile | undefined {
  let fd: number;
  try {
    // Look first: even a non-blocking open of a device can have side effects. Everything else
    // is judged on the descriptor (the path may change between the two looks).
    const pre = lstatSync(path);
    if (pre.isCharacterDevice() || pre.isBlockDevice()) {
      warn(`${path} is ${kind(pre)}; not read`);
      return undefined;
    }
    fd = openSync(path, FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    warn(code === 'ELOOP' ? `${path} is a symlink; not read` : `${path}: ${code ?? (e as Error).message}; not read`);
    return undefined;
  }
  let why: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) why = `${path} is ${kind(st)}; not read`;
    else if (readlinkSync(`/proc/self/fd/${fd}`) !== path) why = `${path} is reached through a symlink (or is no longer there); not read`;
    else return { fd, dev: st.dev, ino: st.ino, size: st.size };
  } catch (e) {
    why = `${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; not read`;
  }
  closeSync(fd);
  warn(why);
  return undefined;
}

/** Up to `len` bytes (at most MAX_READ) from `pos`, through the descriptor. */
export function readAt(fd: number, pos: number, len: number): Buffer {
  const buf = Buffer.alloc(Math.max(0, Math.min(len, MAX_READ)));
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, pos + got);
    if (n <= 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The non-blank lines of `text`, each cut to MAX_LINE characters. */
export function boundedLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (l.length > MAX_LINE ? l.slice(0, MAX_LINE) : l));
}
