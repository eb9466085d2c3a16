// The drop-in `export` prints: the accepted set as the engine writes it (dropin.ts), with a header
// saying what produced it and on what, and above each line why it is there (exportWhy.ts). The
// engine's own files stay as dropin.ts renders them: they are compared and repaired at start.
import { MARKER, renderDropIn } from './dropin.js';
import { commentLines, day, type SettingWhy } from './exportWhy.js';
import type { JournalRecord } from './journal.js';

/** What the exporting process knows besides the journal. */
export interface ExportEnv {
  /** autoharden's version. */
  version: string;
  host: string;
  date: Date;
  /** The running kernel's release: said when the journal recorded no platform. */
  kernelRelease?: string;
}

/** Where the set was last verified: the latest tune-begin or re-verification that recorded its
 * platform (journals before that have none). */
export function verifiedOn(records: readonly JournalRecord[]): { systemd: number; kernel?: string; t: string; by: string } | undefined {
  let out: { systemd: number; kernel?: string; t: string; by: string } | undefined;
  for (const r of records) {
    if ((r.kind === 'tune-begin' || (r.kind === 'reverify' && r.outcome !== 'unhealthy')) && r.platform) {
      out = { systemd: r.platform.systemd, ...(r.platform.kernel ? { kernel: r.platform.kernel } : {}), t: r.t, by: r.kind === 'tune-begin' ? 'tune' : 're-verification' };
    }
  }
  return out;
}

/** The header's facts, one per line (plain text; escaped as comments by the renderers). */
export function headerFacts(unit: string, records: readonly JournalRecord[], env: ExportEnv): string[] {
  const on = verifiedOn(records);
  const platform = on
    ? `Verified on systemd ${on.systemd}, kernel ${on.kernel ?? 'unknown'} (${on.by} of ${day(on.t)})`
    : `Verified on: not recorded in this journal (written before autoharden recorded platforms); exporting host runs kernel ${env.kernelRelease ?? 'unknown'}`;
  return [
    `Hardening of ${unit} accepted by trial. Review: autoharden journal ${unit}`,
    `Roll back: autoharden rollback ${unit} --option NAME | --all`,
    `Exported by autoharden ${env.version} from host ${env.host} on ${day(env.date.toISOString())}`,
    platform,
  ];
}

/** Comment lines for a setting's line `i`: the setting's reasons above its first line, the
 * line's own notes (a learned path, a kept capability) above it, a pointer above the rest. */
export function lineComments(w: SettingWhy, i: number): string[] {
  const s = w.setting;
  const head = i === 0 ? w.why.flatMap((t) => commentLines(t)) : [];
  const notes = (w.notes.get(i) ?? []).flatMap((t) => commentLines(t));
  if (i > 0 && notes.length === 0) return commentLines(`Part of ${s.option}=${s.value} (see above)`);
  return [...head, ...notes];
}

/** Longest line written; a longer list is continued with a backslash (systemd joins the lines
 * with a space), so tools that limit line length (yamllint) take it. */
const WIDTH = 120;

/** A directive line cut at spaces into continued lines. Only lists are long, and only at a space
 * that separates their entries; a continuation never starts with a comment character. */
export function wrapDirective(line: string, width = WIDTH): string[] {
  if (line.length <= width) return [line];
  const out: string[] = [];
  let cur = '';
  for (const word of line.split(' ')) {
    if (cur && cur.length + 1 + word.length + 2 > width && !/^[#;]/.test(word)) {
      out.push(`${cur} \\`);
      cur = `  ${word}`;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  out.push(cur);
  return out;
}

/** The annotated drop-in. Its settings are checked as the engine's are (renderDropIn throws
 * Config on a tampered record), its first line is the marker: the file is autoharden's. */
export function renderAnnotatedDropIn(unit: string, records: readonly JournalRecord[], whys: readonly SettingWhy[], env: ExportEnv): string {
  renderDropIn(unit, whys.map((w) => w.setting), 'accepted'); // the checks, and the refusal
  const body = whys.flatMap((w) => ['', ...w.setting.lines.flatMap((l, i) => [...lineComments(w, i), ...wrapDirective(l)])]);
  const head = headerFacts(unit, records, env).flatMap((f) => commentLines(f));
  return [MARKER, ...head, '', '[Service]', ...body.slice(1), ''].join('\n');
}
