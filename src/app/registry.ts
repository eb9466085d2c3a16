// Every use case, once. The daemon serves REMOTE over org.autoharden1 in this order (its D-Bus
// method table and introspection are generated from it); tune and score run only in the CLI's
// process. Adding a D-Bus method: one use-case module, one line here, and the Daemon method that
// implements it (the compiler asks for it through `Served`).
import { ENROLL } from './enroll.js';
import { EXPORT } from './export.js';
import { GUARD_PAUSE } from './guardPause.js';
import { JOURNAL } from './journal.js';
import { ROLLBACK } from './rollback.js';
import { SCORE } from './score.js';
import { STATUS } from './status.js';
import { TUNE } from './tune.js';
import { UNENROLL } from './unenroll.js';
import type { ResponseOf, WireOf } from './useCase.js';

export const REMOTE = [ENROLL, STATUS, JOURNAL, ROLLBACK, UNENROLL, EXPORT, GUARD_PAUSE] as const;
export const LOCAL_ONLY = [TUNE, SCORE] as const;

type Remote = (typeof REMOTE)[number];

/** What the daemon implements: each remote use case, called with its D-Bus arguments (it parses
 * them through the use case's schema). */
export type Served = { [U in Remote as U['name']]: (...wire: WireOf<U>) => ResponseOf<U> | Promise<ResponseOf<U>> };

/** The D-Bus server's handlers: the same, each answering the method's string. */
export type ManagerHandlers = { [U in Remote as U['name']]: (...wire: WireOf<U>) => Promise<string> };

/** Handlers serving `served`: the result of each encoded as its method returns it. */
export function managerHandlers(served: Served): ManagerHandlers {
  const entry = <U extends Remote>(uc: U) => [uc.name, async (...wire: unknown[]) => {
    const fn = served[uc.name] as unknown as (...w: unknown[]) => unknown;
    return (uc.dbus.encode as (r: unknown) => string)(await fn.apply(served, wire));
  }] as const;
  return Object.fromEntries(REMOTE.map(entry)) as unknown as ManagerHandlers;
}
