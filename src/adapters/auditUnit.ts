// Runs the attack battery inside UNIT's sandbox: a transient service
// autoharden-audit-<unit stem>-<random>.service (StartTransientUnit) with the unit's user, groups
// and every sandbox property read back from it (adapters/auditProperties.ts), the battery bound in
// read-only, its stdout in a file of autoharden's own. Nothing outlives the call: the unit is
// collected when it ends (CollectMode=inactive-or-failed) and stopped if it is still there after a
// timeout or an abort; its output file and directories are removed.
//
// Layout under RUN_DIR (/run/autoharden/audit, 0711: traversable, not listable):
//   <id>/out      the battery's stdout (0600, in a fresh 0700 directory): systemd opens it as root
//                 before it sets up the sandbox, so the battery never needs to reach it by path
//   <id>.battery  an empty file: the mount point the battery is bound over in the audit unit. It
//                 is created here so systemd need not create one (on the host's /run: it would stay
//                 behind), and it sits in /run because /run exists in every sandbox; a bind mount
//                 keeps the source's exec flag where /run is noexec, and ExecPaths= exempts it from
//                 a NoExecPaths=/. Its path must be traversable by the service's user, hence 0711.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants as fsc, fstatSync, lstatSync, mkdirSync, openSync, readSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BATTERY_TOTAL_MS, batteryArgs } from '../core/audit.js';
import { AutohardenError } from '../core/errors.js';
import { shown } from '../core/text.js';
import { argSafe, auditUnitName, auditUnitProperties, carryContext, directorySetting, type SkippedProperty, type TransientProperty } from './auditProperties.js';
import { SystemdError } from './systemd/errors.js';
import { SERVICE_IFACE } from './systemd/names.js';
import type { Props } from './systemd/values.js';

export const RUN_DIR = '/run/autoharden/audit';
/** The battery's stdout is read up to this much; it prints one short line per technique. */
export const MAX_OUTPUT = 256 * 1024;
/** The battery bounds itself; the unit's start timeout is the hard bound, with room to start. */
const TIMEOUT_SEC = BATTERY_TOTAL_MS / 1000 + 40;
const STOP_TIMEOUT_MS = 15_000;
/** Properties this systemd refuses to set transiently are dropped and the start retried. */
const MAX_RETRIES = 8;
/** Older than this, an audit's files are a killed audit's leftovers. */
const STALE_MS = 10 * 60_000;
/** The battery takes at most this many --state directories. */
const MAX_STATE = 8;

/** What the audit needs of systemd (adapters/systemd.ts). */
export interface AuditSystemd {
  rawProperties(unit: string, iface: string): Promise<Props>;
  startTransient(name: string, properties: readonly TransientProperty[], timeoutMs: number): Promise<string>;
  stop(unit: string, timeoutMs: number): Promise<string>;
  resetFailed(unit: string): Promise<void>;
}

export interface AuditOptions {
  /** The battery as installed (dist/audit/autoharden-battery). */
  battery: string;
  /** ADDR:PORT the battery may try to connect to. */
  peer?: string;
  runDir?: string;
  timeoutSec?: number;
  signal?: AbortSignal;
  /** Settings without which the audit would not be the unit's (RootDirectory=: the battery would
   * probe the host's tree): when the unit sets one the audit cannot carry, refuse the run before
   * anything is created (scan --audit shows "-" with the reason). */
  refuseUncarried?: readonly string[];
}

/** The unit's context cannot be carried faithfully enough to audit it. */
export class AuditRefused extends AutohardenError {
  constructor(reason: string) {
    super('Failed', reason);
  }
}

export interface AuditRun {
  /** The transient unit the battery ran in (gone by now). */
  auditUnit: string;
  /** Its start job's result: 'done' when the battery ran and exited 0. */
  jobResult: string;
  /** The battery's stdout, at most MAX_OUTPUT bytes: untrusted (the service's user could meddle). */
  output: string;
  truncated: boolean;
  /** What of the unit's context the audit unit does not carry, and why. */
  skipped: SkippedProperty[];
}

/** The battery must be a regular file that the service's user may execute. */
function checkBattery(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new AutohardenError('Failed', `the audit battery ${path} is missing; build it (npm run build)`);
  }
  if (!st.isFile() || (st.mode & 0o001) === 0) {
    throw new AutohardenError('Failed', `the audit battery ${path} is not a file everyone may execute`);
  }
}

/** RUN_DIR, made if absent; refused if it is not a directory of this user's that only it may write. */
function runDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) {
    throw new AutohardenError('Failed', `${dir} is not a directory that only autoharden may write; refusing to use it`);
  }
  chmodSync(dir, 0o711);
  // its parent (/run/autoharden) must be traversable too
  const parent = join(dir, '..');
  const p = lstatSync(parent);
  if ((p.mode & 0o001) === 0) chmodSync(parent, (p.mode & 0o777) | 0o111);
}

/** A directory of the unit's that exists on the host as a directory (a missing one has nothing to
 * bind; the battery refuses one that is not there). A symlink is how DynamicUser= reaches a directory
 * under /var/lib/private, which is 0700 root: bound onto itself it would be out of reach. */
function ownDirectory(path: string, skipped: SkippedProperty[]): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (st.isDirectory()) return true;
  skipped.push({ name: directorySetting(path), reason: `${shown(path)} is not a directory (a DynamicUser= symlink?): not bound in` });
  return false;
}

/** What an audit killed before its cleanup left (its unit is collected by systemd): removed once
 * it is older than any audit can run. Only names an audit makes. */
function sweepStale(dir: string, now = Date.now()): void {
  for (const name of readdirSync(dir)) {
    if (!/^[0-9a-f]{12}(?:\.battery)?$/.test(name)) continue;
    const path = join(dir, name);
    try {
      if (now - lstatSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      /* gone meanwhile */
    }
  }
}

function createEmpty(path: string, mode: number): void {
  closeSync(openSync(path, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY | fsc.O_NOFOLLOW, mode));
  chmodSync(path, mode);
}

/** At most MAX_OUTPUT bytes of a regular file, never following a symlink or blocking on a FIFO. */
function readBounded(path: string): { text: string; truncated: boolean } {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch {
    return { text: '', truncated: false };
  }
  try {
    if (!fstatSync(fd).isFile()) return { text: '', truncated: false };
    const buf = Buffer.alloc(MAX_OUTPUT + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    return { text: buf.subarray(0, Math.min(n, MAX_OUTPUT)).toString('utf8'), truncated: n > MAX_OUTPUT };
  } finally {
    closeSync(fd);
  }
}

/** The run was aborted (its signal fired): the unit was stopped and everything removed. */
export class AuditAborted extends AutohardenError {
  constructor() {
    super('Failed', 'the audit was interrupted; its unit was stopped');
  }
}

/** Rejects with AuditAborted when the signal fires first. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AuditAborted());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** "Cannot set property X, or unknown property." (dbus-unit.c): the name of a property this
 * systemd cannot set on a transient unit. */
function refusedProperty(e: unknown): string | undefined {
  if (!(e instanceof SystemdError)) return undefined;
  return /Cannot set property (\w+), or unknown property/.exec(e.message)?.[1];
}

export async function runAuditUnit(sd: AuditSystemd, unit: string, o: AuditOptions): Promise<AuditRun> {
  checkBattery(o.battery);
  const carried = carryContext(await sd.rawProperties(unit, SERVICE_IFACE));
  const skipped = [...carried.skipped];
  const refusedBy = skipped.find((p) => o.refuseUncarried?.includes(p.name));
  if (refusedBy) throw new AuditRefused(`${refusedBy.name}= is not carried into the audit: ${refusedBy.reason}`);
  const ctx = { ...carried, directories: carried.directories.filter((d) => ownDirectory(d, skipped)) };
  const states = ctx.directories.filter((d) => {
    if (argSafe(d)) return true;
    skipped.push({ name: directorySetting(d), reason: `${shown(d)} is bound in but not given to the battery: characters it cannot take` });
    return false;
  });
  for (const d of states.slice(MAX_STATE)) skipped.push({ name: directorySetting(d), reason: `${shown(d)} is bound in but not given to the battery: it takes ${MAX_STATE}` });
  // checked again as the battery checks them: it refuses the whole run over one bad argument
  const args = batteryArgs({ stateDirs: states.slice(0, MAX_STATE), ...(o.peer === undefined ? {} : { peer: o.peer }) });
  const runDir = o.runDir ?? RUN_DIR;
  const timeoutSec = o.timeoutSec ?? TIMEOUT_SEC;
  runDirectory(runDir);
  sweepStale(runDir);
  const id = randomBytes(6).toString('hex');
  const dir = join(runDir, id);
  const mountPoint = join(runDir, `${id}.battery`);
  const outputFile = join(dir, 'out');
  let name = auditUnitName(unit, id);
  let jobResult: string | undefined;
  let output = { text: '', truncated: false };
  mkdirSync(dir, { mode: 0o700 }); // fails if it exists: never someone else's to remove below
  try {
    chmodSync(dir, 0o700);
    createEmpty(outputFile, 0o600);
    createEmpty(mountPoint, 0o644);
    const spec = { unit, battery: { source: o.battery, path: mountPoint }, outputFile, args, timeoutSec };
    const refused = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      // a refused start may leave its unit loaded for a moment: each attempt has a name of its own
      name = auditUnitName(unit, attempt ? `${id}-${attempt}` : id);
      const carried = { ...ctx, properties: ctx.properties.filter((p) => !refused.has(p.name)) };
      try {
        jobResult = await untilAborted(sd.startTransient(name, auditUnitProperties(carried, spec), (timeoutSec + 15) * 1000), o.signal);
        break;
      } catch (e) {
        const prop = refusedProperty(e);
        if (!prop || refused.has(prop) || !ctx.properties.some((p) => p.name === prop) || attempt >= MAX_RETRIES) throw e;
        refused.add(prop);
        skipped.push({ name: prop, reason: 'this systemd cannot set it on a transient unit' });
      }
    }
    output = readBounded(outputFile);
  } finally {
    // still there after a timeout, an abort or a lost reply: stop it (CollectMode= then collects it)
    if (jobResult === undefined) {
      await sd.stop(name, STOP_TIMEOUT_MS).catch(() => undefined);
      await sd.resetFailed(name).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(mountPoint, { force: true });
  }
  return { auditUnit: name, jobResult: jobResult ?? '', output: output.text, truncated: output.truncated, skipped };
}
