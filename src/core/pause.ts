// `guard pause|resume`: an admin's maintenance window on one unit, folded from its journal (the
// source of truth, read alike by the daemon at start and by the CLI without it). Pure: `now` is
// passed in.
//
// A pause ends by itself at `until`: a forgotten one must not leave a service unguarded for good.
import { AutohardenError } from './errors.js';
import type { JournalRecord, NewRecord } from './journal.js';

/** A pause with no --for: long enough for an upgrade and its restarts, short enough that a
 * forgotten pause does not leave the unit unguarded overnight. */
export const PAUSE_DEFAULT_MS = 3_600_000;
/** A long weekend's maintenance window; longer is `unenroll` (and well within setTimeout's 24.8 days). */
export const PAUSE_MAX_MS = 7 * 86_400_000;
export const PAUSE_MIN_MS = 1000;

/** The last pause not followed by a resume, whether or not its time is up; undefined when none. */
export function openPause(records: readonly JournalRecord[]): { at: string; until: number } | undefined {
  let open: { at: string; until: number } | undefined;
  for (const r of records) {
    if (r.kind !== 'guard') continue;
    if (r.action === 'resume') open = undefined;
    else {
      const until = Date.parse(r.until ?? '');
      // a pause without a readable end is taken as over: the guard must not stay off on garbage
      open = Number.isFinite(until) ? { at: r.t, until } : undefined;
    }
  }
  return open;
}

/** When the unit's pause ends (ms since the epoch), if it is paused at `now`. */
export function pausedUntil(records: readonly JournalRecord[], now: number): number | undefined {
  const p = openPause(records);
  return p && now < p.until ? p.until : undefined;
}

/** A pause whose time is up but that no resume record closes yet (the daemon was not running, or
 * its timer has just fired): the resume by expiry to journal. */
export function expiredPause(records: readonly JournalRecord[], now: number): NewRecord | undefined {
  const p = openPause(records);
  return p && now >= p.until ? { kind: 'guard', action: 'resume', by: 'expiry', until: new Date(p.until).toISOString() } : undefined;
}

export type PauseAction = 'pause' | 'resume';

export interface PauseResult {
  unit: string;
  action: PauseAction;
  /** false: a resume of a unit that was not paused (nothing journaled). */
  changed: boolean;
  /** ISO time the pause ends (pause), or the end of the pause this resume closed. */
  until?: string;
  /** The pause this one replaced (a pause of a paused unit moves its end). */
  previousUntil?: string;
  /** Whether the unit is enrolled: a pause of a unit only `tune` touched guards nothing. */
  enrolled: boolean;
}

/** What a pause or resume request journals, and what it answers. */
export function pauseDecision(
  unit: string,
  records: readonly JournalRecord[],
  req: { action: PauseAction; forMs: number },
  now: number,
  enrolled: boolean,
): { record?: NewRecord; result: PauseResult } {
  const current = pausedUntil(records, now);
  const iso = (ms: number) => new Date(ms).toISOString();
  if (req.action === 'resume') {
    if (current === undefined) return { result: { unit, action: 'resume', changed: false, enrolled } };
    return { record: { kind: 'guard', action: 'resume', by: 'user' }, result: { unit, action: 'resume', changed: true, until: iso(current), enrolled } };
  }
  if (!Number.isInteger(req.forMs) || req.forMs < PAUSE_MIN_MS || req.forMs > PAUSE_MAX_MS) {
    throw new AutohardenError('Usage', `--for must be from ${PAUSE_MIN_MS / 1000}s to ${PAUSE_MAX_MS / 86_400_000}d`);
  }
  const until = iso(now + req.forMs);
  return {
    record: { kind: 'guard', action: 'pause', by: 'user', until },
    result: { unit, action: 'pause', changed: true, until, ...(current !== undefined ? { previousUntil: iso(current) } : {}), enrolled },
  };
}

/** "14:05" the same day, else "2026-12-03 14:05" (local time of whoever prints it). */
export function clockText(ms: number, now: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return new Date(now).toDateString() === d.toDateString() ? hm : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}
