// --max-restarts and --max-time: whether a tune may start one more trial. Pure.
//
// A tune stops only between trials, and only where what is in force was verified by a trial or
// by the confirmation. So before a trial it asks whether the trial and everything the finish owes
// afterwards still fit: the trial's own restart and the revert a failure costs, then the
// confirmation restart of the accepted set (adaptive), a revert left pending, and the restart that
// puts lostOnReload settings in force again. What the finish owes is reserved, never skipped.
import { formatTimespan } from './timespan.js';

export interface TuneLimits {
  /** Restarts in all, the finish's included. */
  maxRestarts?: number;
  /** Wall time of the whole tune, in ms. */
  maxTimeMs?: number;
}

/** Where the tune stands. */
export interface LimitState {
  restarts: number;
  elapsedMs: number;
  /** What one restart (with its settle and probes) took so far on this unit, or is expected to. */
  msPerRestart: number;
}

/** What running the next step would cost in the worst ordinary case, and what the finish owes. */
export interface StepCost {
  /** Restarts the step itself may take: a trial's restart and its revert (2). */
  restarts: number;
  /** Restarts the finish owes after it: confirmation, pending revert, lostOnReload restart. */
  reserve: number;
  /** Extra time the finish takes beyond its restarts (the confirmation settles longer). */
  reserveMs?: number;
}

export const hasLimits = (l: TuneLimits): boolean => l.maxRestarts !== undefined || l.maxTimeMs !== undefined;

/** Why the next step must not start ("--max-restarts 10 reached"), or undefined: go. */
export function stopReason(limits: TuneLimits, s: LimitState, next: StepCost): string | undefined {
  const restarts = next.restarts + next.reserve;
  if (limits.maxRestarts !== undefined && s.restarts + restarts > limits.maxRestarts) {
    // Said in full: with a small N the first trial may not fit at all, and "reached" alone after
    // 0 restarts would puzzle.
    const left = Math.max(0, limits.maxRestarts - s.restarts);
    return `--max-restarts ${limits.maxRestarts} reached (${left} left; the next step needs ${next.restarts} and the finish ${next.reserve} more)`;
  }
  if (limits.maxTimeMs !== undefined) {
    const need = restarts * Math.max(0, s.msPerRestart) + (next.reserveMs ?? 0);
    if (s.elapsedMs + need > limits.maxTimeMs) return `--max-time ${formatTimespan(limits.maxTimeMs)} reached`;
  }
  return undefined;
}

/** The time one restart is expected to take: what the ones so far took on average, never less
 * than the settle period (a restart waits for it before its probes). */
export function msPerRestart(settleMs: number, measured: { ms: number; restarts: number }): number {
  const mean = measured.restarts > 0 ? measured.ms / measured.restarts : 0;
  return Math.max(settleMs, mean);
}

/** Bounds of the two options, shared by the CLI's parsers and the request schemas. */
export const LIMIT_BOUNDS = {
  restarts: { min: 1, max: 100_000 },
  timeMs: { min: 1000, max: 30 * 86_400_000 },
} as const;

/** The limits a request gives, as the engine takes them: `{}` when it gives none. */
export function limitsFrom(r: { maxRestarts?: number | undefined; maxTimeMs?: number | undefined }): { limits?: TuneLimits } {
  const { maxRestarts, maxTimeMs } = r;
  if (maxRestarts === undefined && maxTimeMs === undefined) return {};
  return { limits: { ...(maxRestarts !== undefined ? { maxRestarts } : {}), ...(maxTimeMs !== undefined ? { maxTimeMs } : {}) } };
}
