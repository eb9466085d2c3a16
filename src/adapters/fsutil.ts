// Durable file writes: a record or file counts as written only once it is on disk. autoharden runs
// as root in directories others may share: never follow a symlink, never reuse a name we did not
// create, and loop until every byte is written (a full disk or a signal gives short writes).
import { randomBytes } from 'node:crypto';
import { closeSync, constants as C, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';

/** writeSync's shape for a buffer; tests inject a short writer. */
export type WriteFn = (fd: number, buf: Uint8Array, offset: number, length: number) => number;

const defaultWrite: WriteFn = (fd, buf, offset, length) => writeSync(fd, buf, offset, length);

/** Writes all of `data`, however little each call takes; no progress at all is an error, not a
 * loop forever. */
export function writeAll(fd: number, data: Uint8Array, write: WriteFn = defaultWrite): void {
  let off = 0;
  while (off < data.length) {
    const n = write(fd, data, off, data.length - off);
    if (!(n > 0)) throw new Error(`write made no progress (${off} of ${data.length} bytes written)`);
    off += n;
  }
}

function quietly(f: () => void): void {
  try {
    f();
  } catch {
    /* cleanup after an error: the first error is the one to report */
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, C.O_RDONLY | C.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A fresh file under an unpredictable name next to `path`, created by us (O_EXCL: a planted file
 * or symlink makes the open fail rather than be followed). Not *.conf, so systemd never reads it. */
function createTemp(path: string, mode: number): { tmp: string; fd: number } {
  for (let attempt = 0; ; attempt++) {
    const tmp = `${dirname(path)}/.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`;
    try {
      return { tmp, fd: openSync(tmp, C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_WRONLY, mode) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 2) throw e;
    }
  }
}

/** Writes via a temporary file, fsync and rename, then fsyncs the directory; on any error the
 * temporary file is removed and `path` is left as it was. */
export function writeFileDurable(path: string, text: string, mode = 0o644, write: WriteFn = defaultWrite): void {
  const { tmp, fd } = createTemp(path, mode);
  let open = true;
  try {
    writeAll(fd, Buffer.from(text, 'utf8'), write);
    fsyncSync(fd);
    open = false; // closed even when close reports an error: never close the number twice
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    if (open) quietly(() => closeSync(fd));
    quietly(() => unlinkSync(tmp));
    throw e;
  }
  fsyncDir(dirname(path));
}

/** Appends one line and fsyncs it. O_NOFOLLOW: a symlink planted at the name is an error. */
export function appendLineDurable(path: string, line: string, write: WriteFn = defaultWrite): void {
  const fd = openSync(path, C.O_WRONLY | C.O_APPEND | C.O_CREAT | C.O_NOFOLLOW, 0o600);
  try {
    writeAll(fd, Buffer.from(`${line}\n`, 'utf8'), write);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export { fsyncDir };
