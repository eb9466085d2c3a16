// Progress lines for a person on stderr, the same whether stderr is a terminal, a pipe or a CI log:
// "trial 5/≈16 ProtectSystem=strict ProtectHome=yes … accepted (7 restarts, ≈1 min left)".
// Pure: an event in, one line out. Machines take --log-format json (common.ts) instead.
import type { ProgressEvent } from '../engine/ports.js';
import type { Setting } from '../core/types.js';
import { printable } from './format.js';

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A setting list shown whole is unreadable once a SystemCallFilter= or a capability list is in
 * it: values and the list are cut, and the cut said. The journal keeps them whole. */
const VALUE_MAX = 48;
const LIST_MAX = 120;

export function settingsLine(settings: readonly Setting[]): string {
  const parts = settings.map((s) => printable(`${s.option}=${s.value.length > VALUE_MAX ? `${s.value.slice(0, VALUE_MAX)}…` : s.value}`));
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const next = out ? `${out} ${parts[i]}` : parts[i]!;
    if (out && next.length > LIST_MAX) return `${out} (+${parts.length - i} more)`;
    out = next;
  }
  return out;
}

/** "≈40 s", "≈3 min", "≈1 h 20 min": rounded as an estimate should be. */
export function aboutText(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 60) return `≈${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `≈${min} min`;
  return `≈${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ''}`;
}

type Counted = Extract<ProgressEvent, { type: 'trial' | 'verdict' }>;

/** "5/≈16", or "5" when the search gave no estimate. */
function trialOf(e: Counted): string {
  return e.estimatedTrials !== undefined && e.estimatedTrials >= e.trial ? `${e.trial}/≈${e.estimatedTrials}` : `${e.trial}`;
}

/** "(7 restarts, ≈1 min left)": the time left scales the time per finished trial by the trials the
 * search still expects; a part without its numbers is left out. */
function countsOf(e: Counted, finished: number): string {
  const parts: string[] = [];
  if (e.restarts !== undefined) parts.push(`${e.restarts} restart${e.restarts === 1 ? '' : 's'}`);
  const { estimatedTrials: est, elapsedMs } = e;
  if (est !== undefined && elapsedMs !== undefined && finished > 0) {
    const left = est - finished;
    if (left > 0) parts.push(`${aboutText((elapsedMs / finished) * left)} left`);
  }
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** One line, no line break, nothing a terminal would act on. */
export function progressText(e: ProgressEvent): string {
  switch (e.type) {
    case 'info':
      return printable(e.message);
    case 'trial':
      return `trial ${trialOf(e)} ${settingsLine(e.settings)} …${countsOf(e, e.trial - 1)}`;
    case 'verdict': {
      const reason = e.outcome === 'accepted' || !e.reason ? '' : `: ${printable(e.reason.split('\n')[0]!.slice(0, 200))}`;
      return `trial ${trialOf(e)} ${settingsLine(e.settings)} … ${printable(e.outcome)}${reason}${countsOf(e, e.trial)}`;
    }
  }
}

/** The same event for machines: the fields as they are, and the text line as `msg`. */
export function progressFields(e: ProgressEvent): Record<string, unknown> {
  if (e.type === 'info') return { event: 'info' };
  const { type, ...rest } = e;
  return { event: type, ...rest };
}
