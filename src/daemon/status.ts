// One status row per unit, folded from its journal and its enrollment. Pure: the daemon adds
// what only it knows (the trial running now); the CLI computes the same rows from the state
// directory when the daemon does not run.
import { acceptedSet, unfinishedTrial, type JournalRecord } from '../core/journal.js';
import { pausedUntil } from '../core/pause.js';
import type { Setting } from '../core/types.js';
import { verificationText } from '../core/upgrade.js';
import type { Enrollment } from './store.js';
import type { CurrentTrial, RowState, StatusRow } from './statusFormat.js';

export { formatStatus, type CurrentTrial, type RowState, type StatusRow } from './statusFormat.js';

export const settingsText = (s: readonly Setting[]): string => s.map((x) => `${x.option}=${x.value}`).join(' ');

export function statusRow(
  unit: string,
  records: readonly JournalRecord[],
  enrollment?: Enrollment,
  current?: CurrentTrial | null,
  /** What differs from the platform the unit was verified on, while its re-verification waits
   * (the daemon knows it; the CLI alone does not). */
  pending?: readonly string[],
  now = Date.now(),
): StatusRow {
  let begin = -1;
  records.forEach((r, i) => {
    if (r.kind === 'tune-begin') begin = i;
  });
  const since = begin >= 0 ? records.slice(begin) : records;
  const first = since[0];
  const end = since.filter((r) => r.kind === 'tune-end').at(-1);
  const trials = since.filter((r) => r.kind === 'trial-end' && r.verdict !== 'not-effective').length;
  const open = unfinishedTrial(records);
  let state: RowState;
  if (enrollment) state = enrollment.state;
  else state = open ? 'interrupted' : end ? 'tuned' : 'tuning';
  const exposureBefore = end?.kind === 'tune-end' ? end.exposureBefore : first?.kind === 'tune-begin' ? first.exposure : null;
  const row: StatusRow = {
    unit,
    state,
    enrolled: enrollment !== undefined,
    exposureBefore: exposureBefore ?? null,
    exposureAfter: end?.kind === 'tune-end' ? end.exposureAfter : null,
    trials,
    currentTrial: current ?? (open && state === 'tuning' ? { trial: open.trial, settings: settingsText(open.settings) } : null),
    accepted: acceptedSet(records).map((s) => `${s.option}=${s.value}`),
  };
  const cost = since.filter((r) => r.kind === 'cost').at(-1);
  if (cost?.kind === 'cost') row.cost = `${cost.verdict} ${cost.description}`;
  const alerts = since.filter((r) => r.kind === 'alert');
  const lastAlert = alerts.at(-1);
  if (lastAlert?.kind === 'alert') {
    row.alerts = alerts.length;
    row.lastAlert = lastAlert.reason;
  }
  const v = verificationText(records, pending);
  if (v.verifiedOn) row.verifiedOn = v.verifiedOn;
  if (v.reverify) row.reverify = v.reverify;
  const paused = pausedUntil(records, now);
  if (paused !== undefined) row.pausedUntil = new Date(paused).toISOString();
  if (enrollment?.error) row.error = enrollment.error;
  if (enrollment?.report) row.report = enrollment.report;
  return row;
}
