// Status rows as data and as text. Types and formatting only: the CLI loads this (and not the
// journal schema) when the daemon answers `status`.
// Alert texts quote what a service logged: no terminal escapes reach the admin's screen.
import { clockText } from '../core/pause.js';
import { flattened } from '../core/text.js';
import type { TuneReport } from '../engine/tune.js';

/** queued/tuning/guarding/failed for enrolled units; tuned/interrupted/tuning for units only
 * `autoharden tune` touched. */
export type RowState = 'queued' | 'tuning' | 'guarding' | 'failed' | 'tuned' | 'interrupted';

export interface CurrentTrial {
  trial: number;
  settings: string;
}

export interface StatusRow {
  unit: string;
  state: RowState;
  enrolled: boolean;
  exposureBefore: number | null;
  exposureAfter: number | null;
  /** Restarts with a candidate applied, in the current (or last) tune. */
  trials: number;
  currentTrial: CurrentTrial | null;
  accepted: string[];
  /** The last measured cost of the accepted set (--workload): "+3.1% (bounds …)". */
  cost?: string;
  /** Alerts since the last tune: evidence the guard did not act on (see `journal`). */
  alerts?: number;
  lastAlert?: string;
  error?: string;
  report?: TuneReport;
  /** The platform its accepted set was last verified on ("systemd 252, kernel 6.1 (tuned at …)"). */
  verifiedOn?: string;
  /** After an upgrade: "re-verify pending: systemd 252 → 257", "re-verified at …: ok". */
  reverify?: string;
  /** `guard pause`: when the admin's pause ends (ISO); absent when not paused. */
  pausedUntil?: string;
}

const num = (n: number | null) => (n === null ? '…' : n.toFixed(1));

/** "guarding (paused until 14:05)" while the admin's pause lasts. */
export function stateText(r: Pick<StatusRow, 'state' | 'pausedUntil'>, now = Date.now()): string {
  const until = r.pausedUntil ? Date.parse(r.pausedUntil) : NaN;
  return Number.isFinite(until) && until > now ? `${r.state} (paused until ${clockText(until, now)})` : r.state;
}

export function formatStatus(rows: readonly StatusRow[]): string {
  if (rows.length === 0) return 'no units';
  const w = Math.max(4, ...rows.map((r) => r.unit.length));
  const states = rows.map((r) => stateText(r));
  const sw = Math.max(11, ...states.map((s) => s.length));
  const head = `${'UNIT'.padEnd(w)}  ${'STATE'.padEnd(sw)}  ${'EXPOSURE'.padEnd(11)}  TRIALS  CURRENT`;
  const lines = rows.map((r, i) => {
    const exposure = r.exposureBefore === null && r.exposureAfter === null ? '-' : `${num(r.exposureBefore)} → ${num(r.exposureAfter)}`;
    const alerts = r.alerts ? `${r.alerts} alert(s), last: ${flattened(r.lastAlert ?? '').slice(0, 120)}` : '';
    const current = r.currentTrial ? `#${r.currentTrial.trial} ${r.currentTrial.settings}` : r.error ? `error: ${r.error}` : alerts || (r.cost ? `cost ${r.cost}` : '') || (r.reverify?.startsWith('re-verify pending') ? 're-verify pending' : '');
    return `${r.unit.padEnd(w)}  ${states[i]!.padEnd(sw)}  ${exposure.padEnd(11)}  ${String(r.trials).padStart(6)}  ${current}`.trimEnd();
  });
  // one unit: what its accepted set was verified on, and any re-verification after an upgrade
  const [one] = rows;
  const detail = rows.length === 1 && one
    ? [...(one.verifiedOn ? [`verified on: ${flattened(one.verifiedOn)}`] : []), ...(one.reverify ? [flattened(one.reverify)] : [])]
    : [];
  return [head, ...lines, ...detail].join('\n');
}
