// A lock per unit keeps two writers (a `tune` and the daemon) apart: flock(2) on
// STATE_DIR/locks/ID.lock, keyed by the unit's canonical Id so that aliases (ssh/sshd) share it.
//
// Node has no flock() and a native addon cannot be built everywhere, so flock(1) (util-linux) takes
// it for us: we open the lock file and hand that descriptor to `flock --nonblock --exclusive 3` as
// its fd 3. flock(2) locks the open file description, which the child's fd 3 shares with ours; when
// flock(1) exits its copy closes, but the lock belongs to the description and stays held while our
// fd is open. It is released when we close the fd or die (no stale lock is left by a kill -9). Our
// fds are O_CLOEXEC (libuv), so no probe or other child inherits the lock and outlives us. Two
// opens in one process are two descriptions: they exclude each other too.
//
// The file is never unlinked: a process that opened it just before would lock the unlinked inode
// while another locks a new file of that name, and both would "hold" the unit. It holds the
// holder's pid and command line, only for the "locked by" message.
import { spawnSync } from 'node:child_process';
import { closeSync, constants as C, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AutohardenError, stateWriteError } from '../core/errors.js';
import { parseUnitName } from '../core/unitName.js';

/** flock(1)'s exit status when the lock is held elsewhere (we ask for it: 1 is also "error"). */
const CONFLICT = 75;

const clean = (s: string) => s.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 200);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Who holds it, as the holder wrote it: "PID (COMMAND)". A new holder writes that just after it
 * took the lock, over its predecessor's (a dead pid): wait a moment for it rather than name the
 * wrong process (up to 0.5 s: a busy machine may not run the holder sooner). Only for the message;
 * undefined when it does not come. */
function holderOf(path: string): string | undefined {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 50; i++) {
    try {
      const [pid = '', cmd = ''] = readFileSync(path, 'utf8').split('\n');
      if (/^\d{1,10}$/.test(pid) && alive(Number(pid))) return `${pid} (${clean(cmd) || '?'})`;
    } catch {
      /* unreadable: say less */
    }
    Atomics.wait(pause, 0, 0, 10);
  }
  return undefined;
}

function open(path: string): number {
  const flags = C.O_CREAT | C.O_NOFOLLOW;
  try {
    return openSync(path, flags | C.O_RDWR, 0o600);
  } catch (e) {
    // A read-only state directory: the lock still works on a read-only descriptor (degraded mode).
    if ((e as NodeJS.ErrnoException).code !== 'EROFS') throw stateWriteError(path, 'the lock file', e);
    try {
      return openSync(path, C.O_RDONLY | C.O_NOFOLLOW);
    } catch {
      throw stateWriteError(path, 'the lock file', e); // absent: it cannot be created
    }
  }
}

/**
 * Takes the lock of `unit`, keyed by `key` (its canonical Id, UnitInfo.id; the name when systemd
 * did not say). Returns its release (idempotent). Throws AutohardenError Locked (exit 75) naming the
 * holder when another process, or another lock in this one, has it.
 */
export function lockUnit(stateDir: string, unit: string, key: string = unit): () => void {
  const id = parseUnitName(key); // a unit name, nothing else, becomes part of the path
  const dir = join(stateDir, 'locks');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw stateWriteError(dir, 'the lock directory', e);
  }
  const path = join(dir, `${id}.lock`);
  const fd = open(path);
  const r = spawnSync('flock', ['--nonblock', '--exclusive', '--conflict-exit-code', String(CONFLICT), '3'], {
    stdio: ['ignore', 'ignore', 'pipe', fd],
    timeout: 30_000,
  });
  if (r.status !== 0) {
    closeSync(fd);
    if (r.status === CONFLICT) {
      const by = holderOf(path);
      throw new AutohardenError('Locked', `${unit} is busy: locked by ${by ?? 'another process'} (a tune or the daemon); lock file ${path}`);
    }
    const why = r.error ? r.error.message : clean(r.stderr?.toString() ?? '') || `exit status ${r.status ?? r.signal}`;
    throw new AutohardenError('Failed', `cannot lock ${path} with flock(1) from util-linux: ${why}`);
  }
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n${clean(process.argv.join(' '))}\n`, 0);
  } catch {
    /* read-only or full state directory: the lock holds, only the "locked by" message is poorer */
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    try {
      ftruncateSync(fd, 0); // the next holder writes its own pid; a stale one would mislead
    } catch {
      /* as above */
    }
    closeSync(fd);
  };
}
