// Every error autoharden reports, in one table (in the manner of fastify's lib/errors.js): a code
// with its exit status (CLI) and D-Bus error name (daemon), and each message that more than one
// place raises, written once as a template. Pure.
import { constants as osConstants } from 'node:os';
import { format } from 'node:util';

export type ErrorCode =
  | 'Usage' // malformed argument: bad unit name, bad probe spec
  | 'AccessDenied' // not root
  | 'UnitUnknown' // unknown, not running, or not enrolled
  | 'Failed' // the operation failed
  | 'Config' // bad configuration file
  | 'Locked' // another writer holds the unit
  | 'ThresholdExceeded'; // scan --threshold: a unit's exposure is above it

/** Per code: the CLI's exit status. The D-Bus error name is DBUS_ERROR_PREFIX + the code. */
export const ERROR_TABLE: Readonly<Record<ErrorCode, { exit: number; doc: string }>> = {
  Usage: { exit: 2, doc: 'usage error' },
  AccessDenied: { exit: 4, doc: 'not root' },
  UnitUnknown: { exit: 6, doc: 'unit unknown, not running, not enrolled or never tuned' },
  Failed: { exit: 1, doc: 'the operation failed' },
  Config: { exit: 78, doc: 'bad configuration' },
  Locked: { exit: 75, doc: 'the unit is locked by another autoharden' }, // EX_TEMPFAIL (sysexits.h): try again once the holder is done
  ThresholdExceeded: { exit: 3, doc: 'scan --threshold: a unit not ignored is above the threshold' },
};

export const ERROR_CODES = Object.keys(ERROR_TABLE) as readonly ErrorCode[];

export const EXIT_CODES: Record<ErrorCode, number> = Object.fromEntries(ERROR_CODES.map((c) => [c, ERROR_TABLE[c].exit])) as Record<ErrorCode, number>;

export const DBUS_ERROR_PREFIX = 'org.autoharden1.Error.';
export const dbusErrorName = (code: ErrorCode): string => `${DBUS_ERROR_PREFIX}${code}`;
export function codeOfDBusErrorName(name: string): ErrorCode | undefined {
  if (!name.startsWith(DBUS_ERROR_PREFIX)) return undefined;
  const code = name.slice(DBUS_ERROR_PREFIX.length) as ErrorCode;
  return ERROR_CODES.includes(code) ? code : undefined;
}

export class AutohardenError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AutohardenError';
  }
}

type Arg = string | number | undefined;

/** An error class whose message is a util.format template (%s; %j for a JSON-quoted value). */
function defineError(code: ErrorCode, template: string) {
  return class extends AutohardenError {
    static readonly code = code;
    static readonly template = template;
    constructor(...args: Arg[]) {
      super(code, format(template, ...args));
    }
  };
}

/** The messages more than one place raises. `throw new ERR.NotLoaded(unit, info.loadState)`. */
export const ERR = {
  NotLoaded: defineError('UnitUnknown', '%s is not loaded (LoadState=%s)'),
  NotRunning: defineError('UnitUnknown', '%s is not running (ActiveState=%s); start it first'),
  NeverTuned: defineError('UnitUnknown', 'autoharden has no journal for %s in %s; it was never tuned'),
  NotEnrolled: defineError('UnitUnknown', '%s is not enrolled'),
  UnknownToDaemon: defineError('UnitUnknown', '%s is not enrolled and has never been tuned'),
  AlreadyEnrolled: defineError('Failed', '%s is already enrolled (%s); unenroll it first'),
  RollbackNeedsOne: defineError('Usage', 'rollback needs exactly one of --all or --option NAME'),
  UnknownOption: defineError('Usage', 'unknown option %j; see autoharden journal %s'),
  SettleRange: defineError('Usage', 'settle must be from %s to %s ms'),
  UnenrollMode: defineError('Usage', 'unenroll mode must be keep or remove, not %j'),
  UnenrollBoth: defineError('Usage', 'unenroll takes --keep or --remove, not both'),
  BudgetNeedsWorkload: defineError('Usage', '--budget needs --workload: the slowdown is measured with it'),
  LocalOnlyContradicts: defineError('Usage', '--local-only and --allow-net contradict each other; pick one'),
  UnhealthyAfterRollback: defineError('Failed', '%s is unhealthy after the rollback: %s'),
  LockedTryAgain: defineError('Locked', '%s is locked by another autoharden process; try again'),
  NotRoot: defineError('AccessDenied', 'autoharden must run as root to change units'),
  DaemonNotRunning: defineError('Failed', 'the autoharden daemon is not running: start it (systemctl start autoharden.service), or tune in the foreground with autoharden tune'),
} as const;

/** A command a signal stopped. Its exit status is 128 + the signal's number, as a shell reports a
 * process the signal killed: 130 SIGINT, 143 SIGTERM, 129 SIGHUP. */
export class Interrupted extends AutohardenError {
  readonly exitCode: number;
  constructor(readonly signal: NodeJS.Signals, message: string) {
    super('Failed', message);
    this.exitCode = 128 + (osConstants.signals[signal] ?? 0);
  }
}

/** What an error means at an edge: its code and one message. errno EACCES/EPERM is AccessDenied,
 * systemd's NoSuchUnit is UnitUnknown, anything else not ours is Failed. */
export function errorCodeOf(e: unknown): { code: ErrorCode; message: string } {
  const message = (e as Error | undefined)?.message ?? String(e);
  if (e instanceof AutohardenError) return { code: e.code, message };
  const code = (e as { code?: unknown } | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') return { code: 'AccessDenied', message: `access denied: ${message}` };
  if (code === 'NoSuchUnit') return { code: 'UnitUnknown', message };
  return { code: 'Failed', message };
}

/** The exit status of an error: Interrupted's own, else its code's. */
export function exitCodeOf(e: unknown): number {
  return e instanceof Interrupted ? e.exitCode : EXIT_CODES[errorCodeOf(e).code];
}

/** The state directory refused a write (ENOSPC, EROFS, EIO…): nothing was recorded. A caller must
 * still undo what the record would have announced (a trial drop-in goes first), then log loudly. */
export class StateWriteError extends AutohardenError {
  constructor(
    readonly path: string,
    /** The errno name ('ENOSPC', 'EROFS', …), or 'EIO' when the cause had none. */
    readonly errno: string,
    message: string,
  ) {
    super('Failed', message);
    this.name = 'StateWriteError';
  }
}

/** Wraps a failed write to the state directory, keeping its errno. */
export function stateWriteError(path: string, what: string, e: unknown): StateWriteError {
  const code = (e as { code?: unknown } | undefined)?.code;
  const errno = typeof code === 'string' ? code : 'EIO';
  const why = e instanceof Error ? e.message : String(e);
  return new StateWriteError(path, errno, `cannot write ${what} ${path} (${errno}): ${why.split('\n')[0]}`);
}
