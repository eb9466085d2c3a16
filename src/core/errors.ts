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
  Locked: 1,
};
