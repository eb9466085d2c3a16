// Errors carry a stable code; the edges map it to an exit status (CLI) or a D-Bus error name.
export type ErrorCode =
  | 'Usage' // malformed argument: bad unit name, bad probe spec
  | 'AccessDenied' // not root
  | 'UnitUnknown' // unknown, not running, or not enrolled
  | 'Failed' // the operation failed
  | 'Config' // bad configuration file
  | 'Locked'; // another writer holds the unit

export class AutohardenError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AutohardenError';
  }
}

export const EXIT_CODES: Record<ErrorCode, number> = {
  Usage: 2,
  AccessDenied: 4,
  UnitUnknown: 6,
  Failed: 1,
  Config: 78,
  Locked: 75, // EX_TEMPFAIL: try again once the holder is done (DESIGN)
};

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
