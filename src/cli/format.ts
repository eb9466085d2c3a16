// Human-readable renderings for the CLI. Machines get --json.
import type { JournalRecord } from '../core/journal.js';
import { exposureLabel } from '../core/score.js';
import type { Setting } from '../core/types.js';
import type { TuneReport } from '../app/views.js';

export { formatStatus } from '../app/views.js';

const sv = (s: readonly Setting[]) => s.map((x) => `${x.option}=${x.value}`).join(' ');
const time = (t: string) => t.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
/** Text a service wrote, made safe for a terminal: no escape sequences, no line breaks. */
// eslint-disable-next-line no-control-regex
export const printable = (s: string) => s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

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
    case 'tune-end':
      return `${head}tune      done: exposure ${r.exposureBefore ?? '?'} → ${r.exposureAfter ?? '?'}, ${r.trials} trials, ${r.restarts} restarts, ${(r.durationMs / 1000).toFixed(1)} s`;
  }
}

export function formatTuneReport(r: TuneReport): string {
  const lines = [
    `${r.unit}: exposure ${r.exposureBefore.toFixed(1)} ${exposureLabel(r.exposureBefore)} → ${r.exposureAfter.toFixed(1)} ${exposureLabel(r.exposureAfter)}`,
    `${r.trials} trials, ${r.restarts} restarts, ${(r.durationMs / 1000).toFixed(1)} s`,
    '',
    `accepted (${r.accepted.length}):`,
    ...r.accepted.map((a) => `  + ${a.option}=${a.value}${a.safety && a.safety !== 'verifiable' ? `  [${a.safety}]` : ''}`),
    `rejected (${r.rejected.length}):`,
    ...r.rejected.map((a) => `  - ${a.option}=${a.value}: ${a.reason}`),
    `skipped (${r.skipped.length}):`,
    ...r.skipped.map((a) => `  · ${a.option}${a.value ? `=${a.value}` : ''}: ${a.reason}`),
  ];
  if (r.unscored?.length) {
    const items = r.unscored.map((u) => `${u.option}=${u.value}${u.scoredAs ? ` (scored as ${u.scoredAs})` : ''}`);
    lines.push('', `In force, not counted by systemd-analyze: ${items.join(' ')}`);
  }
  if (r.warnings.length) lines.unshift(...r.warnings.map((w) => `WARNING: ${w}`), '');
  if (r.persistedTo) lines.push('', `written to ${r.persistedTo}`);
  return lines.join('\n');
}
