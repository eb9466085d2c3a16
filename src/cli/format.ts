// Human-readable renderings for the CLI. Machines get --json.
import { constants as osConstants } from 'node:os';
import { ERROR_CODES, ERROR_TABLE } from '../core/errors.js';
import type { JournalRecord } from '../core/journal.js';
import { exposureLabel } from '../core/score.js';
import type { Setting } from '../core/types.js';
import type { TuneReport } from '../app/views.js';
import { printable } from '../core/text.js';

export { formatStatus } from '../app/views.js';

const sv = (s: readonly Setting[]) => s.map((x) => `${x.option}=${x.value}`).join(' ');
const time = (t: string) => t.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
/** Text a service wrote, made safe for a terminal: no escape sequences, no line breaks. */
export { printable } from '../core/text.js';

/** "systemd 257, kernel 6.12, +BPF_FRAMEWORK +SECCOMP, LSM landlock,bpf" (journal fields are
 * validated names: nothing to escape). */
function platformText(p: NonNullable<Extract<JournalRecord, { kind: 'tune-begin' }>['platform']>): string {
  return [
    `systemd ${p.systemd}`,
    ...(p.kernel ? [`kernel ${p.kernel}`] : []),
    ...(p.features?.length ? [p.features.map((f) => `+${f}`).join(' ')] : []),
    ...(p.lsm?.length ? [`LSM ${p.lsm.join(',')}`] : []),
  ].join(', ');
}

export function formatRecord(r: JournalRecord): string {
  const head = `${time(r.t)}  `;
  switch (r.kind) {
    case 'tune-begin':
      return `${head}tune      start (${r.strategy}) exposure ${r.exposure ?? '?'}; probes: ${r.probes.join(' ') || 'none'}${r.platform ? `; on ${platformText(r.platform)}` : ''}`;
    case 'trial-begin':
      return `${head}trial     #${r.trial} ${sv(r.settings)}`;
    case 'trial-end':
      return `${head}${r.outcome.padEnd(9)} #${r.trial} ${sv(r.settings)} — ${r.reason}`;
    case 'skipped':
      return `${head}skipped   ${r.option}${r.value ? `=${r.value}` : ''} — ${r.reason}`;
    case 'rollback':
      return `${head}rollback  ${r.options.join(' ') || '(nothing)'} by ${r.by} — ${r.reason}`;
    case 'alert':
      return `${head}ALERT     by ${r.by} — ${printable(r.reason)}${r.evidence[0] ? ` — ${printable(r.evidence[0].slice(0, 300))}` : ''}`;
    case 'recovered':
      return `${head}recovered #${r.trial} ${sv(r.settings)} — ${r.reason}`;
    case 'persisted':
      return `${head}persisted ${r.path}`;
    case 'cost':
      return `${head}cost      ${r.verdict} ${r.description} — ${r.options.length} options: ${r.options.join(' ')}`;
    case 'phase':
      return `${head}${r.phase.padEnd(9)} ${r.state === 'begin' ? 'begins' : 'ends'}${r.detail ? ` — ${printable(r.detail)}` : ''}`;
    case 'reverify':
      return `${head}reverify  ${r.outcome}${r.changes.length ? ` after ${printable(r.changes.join(', '))}` : ''}${r.options.length ? `; rolled back ${r.options.join(' ')}` : ''} — ${printable(r.reason)}`;
    case 'guard':
      return `${head}guard     ${r.action === 'pause' ? `paused until ${r.until ? printable(time(r.until)) : '?'} by user` : r.by === 'expiry' ? `resumed: the pause${r.until ? ` until ${printable(time(r.until))}` : ''} ended` : 'resumed by user'}`;
    case 'audit':
      return `${head}audit     ${r.when}: blocked ${r.blocked}/${r.applicable}${r.possible.length ? `; still possible: ${printable(r.possible.join(' '))}` : ''}`;
    case 'tune-end':
      return `${head}tune      done: exposure ${r.exposureBefore ?? '?'} → ${r.exposureAfter ?? '?'}, ${r.trials} trials, ${r.restarts} restarts, ${(r.durationMs / 1000).toFixed(1)} s${r.downtimeMs !== undefined ? `, ${(r.downtimeMs / 1000).toFixed(1)} s without service` : ''}${r.complete === false ? `; stopped early: ${r.stoppedBy ?? 'a limit reached'}; what was kept is verified` : ''}`;
  }
}

/** tune --audit: the battery's counts before → after, what it closed and what is still possible. */
function auditLines(r: TuneReport): string[] {
  const a = r.audit;
  if (!a) return [];
  const side = (s?: { blocked: number; applicable: number }) => (s ? `${s.blocked}/${s.applicable}` : '?');
  return [
    `attack battery: blocked ${side(a.before)} → ${side(a.after)}${a.closed.length ? `; closed ${a.closed.join(' ')}` : ''}${a.opened.length ? `; OPENED ${a.opened.join(' ')}` : ''}`,
    ...(a.stillPossible.length ? [`  still possible: ${a.stillPossible.join(' ')}`] : []),
    ...(a.disagree ?? []).map((l) => `  ${printable(l)}`),
  ];
}

/** The accepted settings that reach the unit's login sessions, said once. */
function sessionsLine(r: TuneReport): string[] {
  const confining = r.accepted.filter((a) => a.confinesSessions).map((a) => a.option);
  if (!confining.length) return [];
  return [`  These also confine the login sessions ${r.unit} spawns (users who log in through it get the same sandbox): ${confining.join(' ')}`];
}

export function formatTuneReport(r: TuneReport): string {
  const lines = [
    `${r.unit}: exposure ${r.exposureBefore.toFixed(1)} ${exposureLabel(r.exposureBefore)} → ${r.exposureAfter.toFixed(1)} ${exposureLabel(r.exposureAfter)}`,
    `${r.trials} trials, ${r.restarts} restarts, ${(r.durationMs / 1000).toFixed(1)} s${r.downtimeMs !== undefined ? `; ${(r.downtimeMs / 1000).toFixed(1)} s without service (probes failing)` : ''}`,
    ...(r.complete === false ? [`stopped early: ${r.stoppedBy ?? 'a limit reached'}; what was kept is verified`] : []),
    ...auditLines(r),
    '',
    `accepted (${r.accepted.length}):`,
    // the safety class is the catalog's word on the option (kept in --json); the notes say what it
    // means for this unit, and only where it applies
    ...r.accepted.flatMap((a) => [`  + ${printable(`${a.option}=${a.value}`)}`, ...(a.note ? [`      ${printable(a.note)}`] : [])]),
    ...sessionsLine(r),
    `rejected (${r.rejected.length}):`,
    ...r.rejected.map((a) => `  - ${printable(`${a.option}=${a.value}: ${a.reason}`)}`),
    `skipped (${r.skipped.length}):`,
    ...r.skipped.map((a) => `  · ${printable(`${a.option}${a.value ? `=${a.value}` : ''}: ${a.reason}`)}`),
  ];
  if (r.unscored?.length) {
    const items = r.unscored.map((u) => `${u.option}=${u.value}${u.scoredAs ? ` (scored as ${u.scoredAs})` : ''}`);
    lines.push('', `In force, not counted by systemd-analyze: ${items.join(' ')}`);
  }
  if (r.warnings.length) lines.unshift(...r.warnings.map((w) => `WARNING: ${printable(w)}`), '');
  if (r.persistedTo) lines.push('', `written to ${r.persistedTo}`);
  return lines.join('\n');
}

/** The exit codes as [status, meaning] rows, from core/errors.ts's table: a code added there is
 * listed in --help (and the man page) without anyone remembering to. */
export function exitCodeRows(): Array<readonly [string, string]> {
  const byExit = new Map<number, string[]>([[0, ['ok']]]);
  for (const c of ERROR_CODES) byExit.set(ERROR_TABLE[c].exit, [...(byExit.get(ERROR_TABLE[c].exit) ?? []), ERROR_TABLE[c].doc]);
  const rows = [...byExit].sort(([a], [b]) => a - b).map(([n, docs]) => [String(n), docs.join('; ')] as const);
  const signals = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => 128 + osConstants.signals[s]);
  return [...rows, [signals.join(', '), 'stopped by SIGINT, SIGTERM or SIGHUP (a tune reverts its unfinished trial first)']];
}

export function exitCodesText(): string {
  const rows = exitCodeRows();
  const width = Math.max(...rows.map(([n]) => n.length));
  return ['Exit codes:', ...rows.map(([n, doc]) => `  ${n.padEnd(width)}  ${doc}`)].join('\n');
}
