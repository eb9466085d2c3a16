// `autoharden report`: a unit's journal folded into a document model that the renderers
// (reportRender.ts) turn into Markdown or HTML. Pure. Every string here is as the journal holds
// it (a service's own words among them): the renderers escape, nothing here does.
import { exposureFromRows, optionOfField, type AnalyzeRow } from './analyzeRows.js';
import type { JournalRecord } from './journal.js';
import { flattened } from './text.js';
import type { Setting } from './types.js';

type Rec<K extends JournalRecord['kind']> = Extract<JournalRecord, { kind: K }>;

export type CheckVerdict = 'pass' | 'partial' | 'fail' | 'n/a';

/** One check's state: its badness out of its range, and what it adds to the overall exposure. */
export interface CheckState {
  verdict: CheckVerdict;
  badness?: number;
  range: number;
  /** Exposure points (0..10 scale) this check adds; 0 when it does not apply. */
  contribution: number;
}

export interface CheckRow {
  field: string;
  weight: number;
  before?: CheckState;
  after?: CheckState;
  changed: boolean;
}

export interface TrialRow {
  trial: number;
  settings: string[];
  outcome: string;
  verdict: string;
  reason: string;
  evidence: string[];
  startedAt?: string;
  endedAt: string;
  durationMs?: number;
  cost?: { ratio: number; spread: number };
}

export interface ChartPoint {
  /** 0 = the tune's start, 1..n the trials in order, n+1 its end. */
  x: number;
  exposure: number;
  label: string;
  kind: 'measured' | 'estimated';
  outcome?: string;
}

export interface CostRow {
  t: string;
  options: string[];
  verdict: string;
  ratio: number;
  spread: number;
  lower: number | null;
  upper: number | null;
  pairs: number;
  budget: number;
  atBound: boolean;
  description: string;
}

/** A record told in one line: when, what, why. */
export interface EventRow {
  t: string;
  what: string;
  detail: string;
}

export interface TuneSection {
  startedAt?: string;
  endedAt?: string;
  strategy?: string;
  probes: string[];
  exposureBefore: number | null;
  exposureAfter: number | null;
  trialsRun?: number;
  restarts?: number;
  durationMs?: number;
  /** tune --audit: the attack battery before and after (blocked of applicable), and what stayed possible. */
  audit?: { before?: string; after?: string; stillPossible: string[]; disagree?: string[] };
  /** Time its probes failed (restarts, rejected trials); absent in older journals. */
  downtimeMs?: number;
  /** Why the tune stopped before its search ended (--max-restarts, --max-time); what it kept is verified. */
  stoppedEarly?: string;
  /** Undefined when the journal holds no checks for this tune (written before they were kept, or
   * analyze's rows could not be read). */
  checks?: CheckRow[];
  checksNote?: string;
  trials: TrialRow[];
  chart: { points: ChartPoint[]; note: string };
  costs: CostRow[];
  skipped: { option: string; value: string; reason: string }[];
  events: EventRow[];
}

export interface ReportDoc {
  unit: string;
  records: number;
  tunes: TuneSection[];
  /** What happened outside a tune: the guard's rollbacks and alerts, re-verifications after an
   * upgrade, maintenance pauses, user rollbacks. */
  guard: EventRow[];
  accepted: string[];
}

const settingText = (s: Pick<Setting, 'option' | 'value'>) => `${s.option}=${s.value}`;

function checkState(r: AnalyzeRow, applicableWeight: number): CheckState {
  if (r.badness === undefined) return { verdict: 'n/a', range: r.range, contribution: 0 };
  const verdict: CheckVerdict = r.badness === 0 ? 'pass' : r.badness >= r.range ? 'fail' : 'partial';
  const contribution = applicableWeight > 0 ? (Math.ceil((r.badness * r.weight) / r.range) * 10) / applicableWeight : 0;
  return { verdict, badness: r.badness, range: r.range, contribution };
}

const applicable = (rows: readonly AnalyzeRow[]) => rows.reduce((s, r) => s + (r.badness === undefined ? 0 : r.weight), 0);

/** Every check before and after, the changed ones first, each group by what it added before. */
export function checkRows(before: readonly AnalyzeRow[] | undefined, after: readonly AnalyzeRow[] | undefined): CheckRow[] {
  const wb = applicable(before ?? []);
  const wa = applicable(after ?? []);
  const b = new Map((before ?? []).map((r) => [r.field, r]));
  const a = new Map((after ?? []).map((r) => [r.field, r]));
  const rows: CheckRow[] = [];
  for (const field of new Set([...b.keys(), ...a.keys()])) {
    const rb = b.get(field);
    const ra = a.get(field);
    const row: CheckRow = {
      field,
      weight: (ra ?? rb)!.weight,
      ...(rb ? { before: checkState(rb, wb) } : {}),
      ...(ra ? { after: checkState(ra, wa) } : {}),
      changed: Boolean(rb && ra) && (rb!.badness !== ra!.badness || rb!.weight !== ra!.weight),
    };
    rows.push(row);
  }
  const key = (r: CheckRow) => r.before?.contribution ?? r.after?.contribution ?? 0;
  return rows.sort((x, y) => Number(y.changed) - Number(x.changed) || key(y) - key(x) || (x.field < y.field ? -1 : x.field > y.field ? 1 : 0));
}

/** Exposure after each trial, estimated from the checks: a check takes its score at the end once
 * the option that owns it is accepted at the value it ended with, and its score at the start while
 * that option is not accepted (or accepted at another value). Undefined without both row sets. */
export function estimatedExposures(
  before: readonly AnalyzeRow[] | undefined,
  after: readonly AnalyzeRow[] | undefined,
  trials: readonly Rec<'trial-end'>[],
  final: ReadonlyMap<string, string>,
): (number | undefined)[] | undefined {
  if (!before || !after) return undefined;
  const options = new Set(trials.flatMap((t) => t.settings.map((s) => s.option)));
  const end = new Map(after.map((r) => [r.field, r]));
  const accepted = new Map<string, string>();
  return trials.map((t) => {
    for (const s of t.settings) {
      if (t.outcome === 'accepted') accepted.set(s.option, s.value);
      else if (t.outcome === 'too-costly' && accepted.get(s.option) === s.value) accepted.delete(s.option);
    }
    const rows = before.map((r) => {
      const o = optionOfField(r.field, options);
      const kept = o !== undefined && accepted.has(o) && accepted.get(o) === final.get(o);
      return kept ? (end.get(r.field) ?? r) : r;
    });
    return exposureFromRows(rows);
  });
}

function trialRows(records: readonly JournalRecord[]): TrialRow[] {
  const begun = new Map<number, string>();
  const out: TrialRow[] = [];
  for (const r of records) {
    if (r.kind === 'trial-begin') begun.set(r.trial, r.t);
    if (r.kind !== 'trial-end') continue;
    const startedAt = begun.get(r.trial);
    const ms = startedAt === undefined ? NaN : Date.parse(r.t) - Date.parse(startedAt);
    out.push({
      trial: r.trial,
      settings: r.settings.map(settingText),
      outcome: r.outcome,
      verdict: r.verdict,
      reason: r.reason,
      evidence: r.evidence,
      ...(startedAt !== undefined ? { startedAt } : {}),
      endedAt: r.t,
      ...(Number.isFinite(ms) && ms >= 0 ? { durationMs: ms } : {}),
      ...(r.cost ? { cost: r.cost } : {}),
    });
  }
  return out;
}

/** One record in a line, for the events of a tune and those outside any. Undefined: not an event. */
export function eventRow(r: JournalRecord): EventRow | undefined {
  const ev = (what: string, detail: string): EventRow => ({ t: r.t, what, detail });
  switch (r.kind) {
    case 'rollback': {
      const who = r.phase === 'confirm' ? 'the confirmation' : r.phase === 'search' ? 'the search' : r.by === 'guard' ? 'the guard' : 'the user';
      const what = r.all ? 'all options' : r.options.join(', ') || 'nothing';
      return ev(`rollback by ${who}`, `${what}: ${r.reason}`);
    }
    case 'alert':
      return ev(`alert by the ${r.by}`, [r.reason, ...r.evidence].join(' — '));
    case 'reverify':
      return ev(`re-verified: ${r.outcome}`, [r.changes.join(', '), r.options.length ? `rolled back ${r.options.join(', ')}` : '', r.reason].filter(Boolean).join('; '));
    case 'recovered':
      return ev(`recovered trial #${r.trial}`, `${r.settings.map(settingText).join(' ')}: ${r.reason}`);
    case 'persisted':
      return ev('persisted', r.path);
    case 'guard':
      return ev(`guard ${r.action} (${r.by})`, r.until ? `until ${r.until}` : '');
    default:
      return undefined;
  }
}

function costRow(r: Rec<'cost'>): CostRow {
  const { t, options, verdict, ratio, spread, lower, upper, pairs, budget, atBound, description } = r;
  return { t, options, verdict, ratio, spread, lower, upper, pairs, budget, atBound, description };
}

/** Options accepted at the end of these records, by value (journal.ts acceptedSet, per section). */
function finalValues(records: readonly JournalRecord[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const r of records) {
    if (r.kind === 'trial-end' && r.outcome === 'accepted') for (const s of r.settings) m.set(s.option, s.value);
    else if (r.kind === 'trial-end' && r.outcome === 'too-costly') {
      for (const s of r.settings) if (m.get(s.option) === s.value) m.delete(s.option);
    } else if (r.kind === 'rollback') for (const o of r.options) m.delete(o);
  }
  return m;
}

/** The battery's runs around this tune (tune --audit), as the section shows them. */
function auditOf(records: readonly JournalRecord[]): Pick<TuneSection, 'audit'> {
  const runs = records.filter((r): r is Rec<'audit'> => r.kind === 'audit');
  if (!runs.length) return {};
  const b = runs.find((r) => r.when === 'before');
  const a = runs.filter((r) => r.when === 'after').at(-1);
  const text = (r: Rec<'audit'>) => `${r.blocked}/${r.applicable}`;
  const last = (a ?? b)!;
  // where the score and the battery disagree, as the latest run said it (journal text: flattened)
  const disagree = (last.disagree ?? []).map((l) => flattened(l));
  return { audit: { ...(b ? { before: text(b) } : {}), ...(a ? { after: text(a) } : {}), stillPossible: last.possible, ...(disagree.length ? { disagree } : {}) } };
}

function section(records: readonly JournalRecord[]): TuneSection {
  const begin = records.find((r): r is Rec<'tune-begin'> => r.kind === 'tune-begin');
  const end = records.find((r): r is Rec<'tune-end'> => r.kind === 'tune-end');
  const ends = records.filter((r): r is Rec<'trial-end'> => r.kind === 'trial-end');
  const before = begin?.checks;
  const after = end?.checks;
  const exposureBefore = begin?.exposure ?? end?.exposureBefore ?? null;
  const exposureAfter = end?.exposureAfter ?? null;
  const trials = trialRows(records);
  const est = estimatedExposures(before, after, ends, finalValues(records));

  const points: ChartPoint[] = [];
  if (exposureBefore !== null) points.push({ x: 0, exposure: exposureBefore, label: 'start (measured)', kind: 'measured' });
  ends.forEach((t, i) => {
    const e = est?.[i];
    if (e !== undefined) points.push({ x: i + 1, exposure: e, label: `trial #${t.trial} (estimated)`, kind: 'estimated', outcome: t.outcome });
  });
  if (exposureAfter !== null && end) points.push({ x: ends.length + 1, exposure: exposureAfter, label: 'end (measured)', kind: 'measured' });
  const note = est
    ? 'Start and end are measured by systemd-analyze security; the points between are estimated from its checks: a check takes its final score once the option that owns it is accepted at its final value.'
    : !end
      ? 'The tune has not ended (it runs, or it was stopped): only its measured start is drawn; the points after each trial are estimated from the checks at its start and its end.'
      : 'Only the measured points are drawn (start and end): the journal holds no per-check rows for this tune, so the exposure after each trial cannot be estimated.';

  let checksNote: string | undefined;
  if (!before && !after) checksNote = 'The journal holds no per-check rows for this tune (written before autoharden kept them, or systemd-analyze could not list its checks).';
  else if (!before) checksNote = 'The journal holds the checks at the end only.';
  else if (!after) checksNote = end ? 'The journal holds the checks at the start only.' : 'The tune has not ended: the checks at the start only.';

  return {
    ...(begin ? { startedAt: begin.t, strategy: begin.strategy } : {}),
    ...(end ? { endedAt: end.t, trialsRun: end.trials, restarts: end.restarts, durationMs: end.durationMs, ...(end.downtimeMs !== undefined ? { downtimeMs: end.downtimeMs } : {}) } : {}),
    ...(end?.complete === false ? { stoppedEarly: end.stoppedBy ?? 'a limit' } : {}),
    ...auditOf(records),
    probes: begin?.probes ?? [],
    exposureBefore,
    exposureAfter,
    ...(before || after ? { checks: checkRows(before, after) } : {}),
    ...(checksNote ? { checksNote } : {}),
    trials,
    chart: { points, note },
    costs: records.filter((r): r is Rec<'cost'> => r.kind === 'cost').map(costRow),
    skipped: records.filter((r): r is Rec<'skipped'> => r.kind === 'skipped').map(({ option, value, reason }) => ({ option, value, reason })),
    events: records.map(eventRow).filter((e): e is EventRow => e !== undefined),
  };
}

/** The unit's journal as a report: one section per tune (from its tune-begin through its
 * tune-end), and what happened outside them. Records of a tune with no begin (a journal cut
 * before it) form a section of their own. */
export function buildReport(unit: string, records: readonly JournalRecord[], accepted: readonly Setting[]): ReportDoc {
  const tunes: JournalRecord[][] = [];
  const guard: EventRow[] = [];
  let open: JournalRecord[] | undefined;
  // tune --audit runs the battery just before the tune begins and just after it ends
  let auditBefore: JournalRecord | undefined;
  for (const r of records) {
    if (r.kind === 'audit' && !open) {
      if (r.when === 'before') auditBefore = r;
      else tunes.at(-1)?.push(r);
      continue;
    }
    if (r.kind === 'tune-begin') {
      if (open) tunes.push(open);
      open = [r, ...(auditBefore ? [auditBefore] : [])];
      auditBefore = undefined;
    } else if (open) {
      open.push(r);
      if (r.kind === 'tune-end') {
        tunes.push(open);
        open = undefined;
      }
    } else if (r.kind === 'trial-begin' || r.kind === 'trial-end' || r.kind === 'tune-end') {
      open = [r]; // a tune whose begin the journal does not hold
      if (r.kind === 'tune-end') {
        tunes.push(open);
        open = undefined;
      }
    } else {
      const e = eventRow(r);
      if (e) guard.push(e);
    }
  }
  if (open) tunes.push(open);
  return { unit, records: records.length, tunes: tunes.map(section), guard, accepted: accepted.map(settingText) };
}
