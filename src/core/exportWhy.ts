// Why each accepted setting is there, read from the unit's journal: the trial that proved it, the
// stronger values that failed, and for learned ReadWritePaths, kept capabilities and address
// families the trial or observation behind each one. Pure. The texts come from records whose
// reasons and evidence quote what the service wrote: they reach a comment only through
// commentSafe.
import type { JournalRecord } from './journal.js';
import { rungOf } from './setting.js';
import type { Setting } from './types.js';

type TrialEnd = Extract<JournalRecord, { kind: 'trial-end' }>;
type TuneBegin = Extract<JournalRecord, { kind: 'tune-begin' }>;

/** One accepted setting with its reasons: `why` for the setting as a whole, `notes` keyed by the
 * index of the line they explain (a learned path, a kept capability). Plain text, unescaped. */
export interface SettingWhy {
  setting: Setting;
  why: string[];
  notes: Map<number, string[]>;
}

const EXCERPT = 100;

/** Text for one comment line of a file people commit and tools read: printable ASCII only (a
 * newline, a control or a Unicode line or bidi character from a service's log becomes an escape),
 * no backslash of its own (a trailing one would continue the line in a unit file), no `{` (a
 * template engine such as Ansible's Jinja must not find a tag in it), shortened to `max`. */
export function commentSafe(text: string, max = 400): string {
  let s = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x20 && c <= 0x7e && ch !== '\\' && ch !== '{' && ch !== '}') s += ch;
    else if (c <= 0xff) s += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c <= 0xffff) s += `\\u${c.toString(16).padStart(4, '0')}`;
    else s += `\\U${c.toString(16).padStart(8, '0')}`;
  }
  s = s.trim();
  return s.length > max ? `${s.slice(0, max - 3).trimEnd()}...` : s;
}

/** Escaped text folded into comment lines of at most `width` characters after the `# `. */
export function commentLines(text: string, width = 110): string[] {
  const out: string[] = [];
  let cur = '';
  for (const word of commentSafe(text).split(/ +/)) {
    for (let w = word; w.length; ) {
      const room = cur ? width - cur.length - 1 : width;
      if (w.length <= room) {
        cur = cur ? `${cur} ${w}` : w;
        w = '';
      } else if (cur) {
        out.push(cur);
        cur = '';
      } else {
        // a word longer than a line: cut, but not right after an escape's backslash
        const cut = w[width - 1] === '\\' ? width - 1 : width;
        out.push(w.slice(0, cut));
        w = w.slice(cut);
      }
    }
  }
  if (cur) out.push(cur);
  return out.map((l) => `# ${l}`);
}

/** "2026-12-01 10:02 UTC" from a record's ISO time; the raw text (escaped later) if not one. */
export function day(t: string): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

const excerpt = (s: string) => (s.length > EXCERPT ? `${s.slice(0, EXCERPT - 3)}...` : s);
const same = (a: Setting, b: Setting) => a.option === b.option && a.value === b.value && a.lines.join('\n') === b.lines.join('\n');

interface Trial {
  end: TrialEnd;
  begin: TuneBegin | undefined;
}

/** Trial ends in journal order, each with the tune it belongs to. */
function trials(records: readonly JournalRecord[]): Trial[] {
  const out: Trial[] = [];
  let begin: TuneBegin | undefined;
  for (const r of records) {
    if (r.kind === 'tune-begin') begin = r;
    else if (r.kind === 'trial-end') out.push({ end: r, begin });
  }
  return out;
}

function provedBy(t: Trial): string {
  const { end } = t;
  const others = end.settings.length - 1;
  const batch = others > 0 ? ` (with ${others} other setting${others > 1 ? 's' : ''})` : '';
  const probes = t.begin?.probes.length ? `; probes passed: ${t.begin.probes.join(', ')}` : '';
  const verdict = end.cause?.kind === 'ok' ? 'active and stable' : excerpt(end.reason);
  return `Trial #${end.trial} on ${day(end.t)}${batch}: ${verdict}${probes || (end.cause?.kind === 'ok' ? `, ${end.cause.probes} probe(s) passed` : '')}`;
}

/** Failed trials (not merely ineffective), latest first, those judging one setting alone before
 * batches (a batch's failure may be another setting's). */
function failures(all: readonly Trial[]): Trial[] {
  const f = [...all].reverse().filter((t) => t.end.outcome === 'rejected' && t.end.verdict !== 'not-effective');
  return [...f.filter((t) => t.end.settings.length === 1), ...f.filter((t) => t.end.settings.length > 1)];
}

/** Why a failed trial failed, in one line. */
const failed = (e: TrialEnd) => `trial #${e.trial} on ${day(e.t)} failed: ${excerpt(e.reason)}`;

/** The ReadWritePaths= line's notes: per learned path, the failed trial whose evidence names it
 * (on a read-only file system), or the observation it was seeded from. */
function pathNotes(s: Setting, all: readonly Trial[]): string[] {
  const notes: string[] = [];
  const mine = all.filter((t) => t.end.settings.some((x) => x.option === s.option));
  const first = mine[0]?.end.settings.find((x) => x.option === s.option);
  for (const p of s.paths ?? []) {
    const erofs = mine.find(
      (t) =>
        t.end.outcome !== 'accepted' &&
        !t.end.settings.some((x) => x.option === s.option && x.paths?.includes(p)) &&
        t.end.evidence.some((l) => l.includes(p) && /read-only file system|erofs/i.test(l)),
    );
    if (erofs) {
      const line = erofs.end.evidence.find((l) => l.includes(p) && /read-only file system|erofs/i.test(l))!;
      notes.push(`${p}: trial #${erofs.end.trial} on ${day(erofs.end.t)} failed writing there: "${excerpt(line)}"`);
    } else if (first?.paths?.includes(p)) {
      notes.push(`${p}: the running unit was seen writing there before the first trial`);
    } else {
      notes.push(`${p}: learned during the tune (no journaled error names it)`);
    }
  }
  return notes;
}

/** Kept items of a setting that keeps a set (CapabilityBoundingSet: the capabilities it keeps):
 * per item, the failed trial that kept every other one but not it. */
function keptNotes(s: Setting, all: readonly Trial[], what: string): string[] {
  const kept = s.items ?? [];
  return kept.map((item) => {
    const without = failures(all).find(
      (t) =>
        t.end.settings.some(
          (x) => x.option === s.option && x.items !== undefined && !x.items.includes(item) && kept.every((k) => k === item || x.items!.includes(k)),
        ),
    );
    return without ? `${item}: ${what} without it failed in trial #${without.end.trial}: ${excerpt(without.end.reason)}` : `${item}: kept; never tried without it`;
  });
}

/** Address families an accepted RestrictAddressFamilies keeps: per family, the failed trial of a
 * value without it, else the observation that ruled such values out before any trial. */
function familyNotes(s: Setting, all: readonly Trial[]): string[] {
  const families = s.value === 'none' ? [] : s.value.split(/\s+/).filter((f) => /^AF_/.test(f));
  return families.map((fam) => {
    const without = failures(all).find(
      (t) => t.end.settings.some((x) => x.option === s.option && !x.value.split(/\s+/).includes(fam)),
    );
    return without
      ? `${fam}: ${s.option}=${excerpt(without.end.settings.find((x) => x.option === s.option)!.value)}, which leaves it out, failed in trial #${without.end.trial}`
      : `${fam}: no value without it was tried (the unit was seen using it when the tune began, or no stronger value was left)`;
  });
}

/** Failed trials of stronger values of the same option (another rung), latest first, at most 2. */
function strongerFailed(s: Setting, all: readonly Trial[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const t of failures(all)) {
    // minimisation steps (settings carrying items) have their own notes
    const x = t.end.settings.find((y) => y.option === s.option && rungOf(y) !== rungOf(s) && !(s.items && y.items));
    if (!x || seen.has(x.value) || out.length >= 2) continue;
    seen.add(x.value);
    out.push(`${x.option}=${excerpt(x.value)} was tried: ${failed(t.end)}`);
  }
  return out;
}

/** The line index a note explains: the first line setting the directive. */
const lineOf = (s: Setting, directive: string) => s.lines.findIndex((l) => l.startsWith(`${directive}=`));

/** Why each accepted setting is there, from the journal. A setting no accepted trial-end names (a
 * journal from before trials were journaled so) gets a plain reason. */
export function explainAccepted(records: readonly JournalRecord[], accepted: readonly Setting[]): SettingWhy[] {
  const all = trials(records);
  const reverify = records.filter((r): r is Extract<JournalRecord, { kind: 'reverify' }> => r.kind === 'reverify' && r.outcome === 'ok');
  return accepted.map((s) => {
    const proof = [...all].reverse().find((t) => t.end.outcome === 'accepted' && t.end.settings.some((x) => same(x, s)));
    const why = [proof ? provedBy(proof) : `Accepted by trial (the journal names no trial for ${s.option}=${excerpt(s.value)})`];
    const later = proof ? reverify.filter((r) => r.t > proof.end.t).at(-1) : undefined;
    if (later) why.push(`Re-verified on ${day(later.t)} after ${later.changes.join(', ') || 'a platform change'}`);
    why.push(...strongerFailed(s, all));
    const notes = new Map<number, string[]>();
    const add = (i: number, n: string[]) => {
      if (i >= 0 && n.length) notes.set(i, [...(notes.get(i) ?? []), ...n]);
    };
    // "before the first trial" means the first of the tune that proved it
    if (s.paths?.length) add(lineOf(s, 'ReadWritePaths'), pathNotes(s, proof ? all.filter((t) => t.begin === proof.begin) : all));
    // the directives whose kept entries a reader asks about; the rest say only the trial
    if (s.option === 'CapabilityBoundingSet' && s.items?.length) add(lineOf(s, s.option), keptNotes(s, all, 'a bounding set'));
    if (s.option === 'RestrictAddressFamilies') add(lineOf(s, s.option), familyNotes(s, all));
    return { setting: s, why, notes };
  });
}
