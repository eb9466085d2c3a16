// The journal's record shapes and the pure folds over them. The journal is the source of truth:
// the accepted set and any unfinished trial are derived from it, never stored elsewhere.
// A trial holds one setting (one-at-a-time) or several (a batch of the adaptive search).
import { z } from 'zod';
import { causeSchema } from './cause.js';
import { structured } from './journalLegacy.js';
import type { Setting } from './types.js';

/** A setting and its structure (types.ts Setting); a record written before settings carried it
 * gets it derived here, once, as it is read. */
const setting = z
  .object({
    option: z.string(),
    value: z.string(),
    lines: z.array(z.string()),
    rung: z.string().optional(),
    paths: z.array(z.string()).optional(),
    items: z.array(z.string()).optional(),
  })
  .transform((s): Setting => structured(s));
const base = { t: z.string(), unit: z.string() };

/** The platform a tune ran on (platform.ts platformFingerprint). It informs and decides nothing
 * the journal must hold, so a garbled field reads as unknown (absent) rather than as a corrupt
 * journal; journals written before it have none. */
const fingerprint = z.object({
  systemd: z.number().int().min(1).max(99_999),
  kernel: z.string().regex(/^\d{1,4}\.\d{1,4}$/).optional().catch(undefined),
  features: z.array(z.string().regex(/^[A-Z0-9_]{1,64}$/)).max(256).optional().catch(undefined),
  lsm: z.array(z.string().regex(/^[a-z0-9_]{1,32}$/)).max(256).optional().catch(undefined),
});

/** systemd-analyze security's checks (analyzeRows.ts AnalyzeRow) at a tune's begin and end, for
 * `report` only: garbled rows read as absent; journals written before them have none. */
const checks = z
  .array(z.object({ field: z.string().max(128), weight: z.number(), range: z.number(), badness: z.number().optional() }))
  .max(1024)
  .optional()
  .catch(undefined);

export const recordSchema = z.discriminatedUnion('kind', [
  z.object({
    ...base,
    kind: z.literal('tune-begin'),
    strategy: z.string(),
    probes: z.array(z.string()),
    exposure: z.number().nullable(),
    platform: fingerprint.optional().catch(undefined),
    /** Set by `apply`: the profile its settings came from (informs only; garbled reads as absent). */
    profile: z.object({ host: z.string().max(255), created: z.string().max(64) }).optional().catch(undefined),
    checks,
    /** What the user declared (--allow-net, --local-only, --confine-sessions), for export --format
     * profile; journals written before it have none, and a garbled one reads as absent. */
    declarations: z
      .object({ allowNet: z.array(z.string().max(64)).max(256), localOnly: z.boolean(), confineSessions: z.boolean() })
      .optional()
      .catch(undefined),
  }),
  z.object({ ...base, kind: z.literal('trial-begin'), trial: z.number(), settings: z.array(setting) }),
  z.object({
    ...base,
    kind: z.literal('trial-end'),
    trial: z.number(),
    settings: z.array(setting),
    outcome: z.enum(['accepted', 'rejected', 'too-costly']),
    verdict: z.string(),
    reason: z.string(),
    evidence: z.array(z.string()),
    /** What the verdict rests on, structured (absent in journals written before it existed). */
    cause: causeSchema.optional(),
    cost: z.object({ ratio: z.number(), spread: z.number() }).optional(),
  }),
  z.object({ ...base, kind: z.literal('skipped'), option: z.string(), value: z.string(), reason: z.string() }),
  z.object({
    ...base,
    kind: z.literal('rollback'),
    by: z.enum(['user', 'guard']),
    options: z.array(z.string()),
    /** `rollback --all` is a fresh start: a later tune may try everything again. */
    all: z.boolean().optional(),
    reason: z.string(),
    /** The invocation already running without the options (journaled after its restart). */
    invocation: z.string().optional(),
    /** Set when a tune's own phase rolled back (its confirmation's bisection; the search, for a
     * setting a passing candidate took out of force), not the guard or the user; `by` stays
     * 'guard' for readers that know only the two. */
    phase: z.enum(['confirm', 'search']).optional(),
  }),
  /** Evidence the guard would not act on (the service or its clients could have written it), or
   * a failure whose sandbox still sets up: said loudly, nothing relaxed. */
  z.object({
    ...base,
    kind: z.literal('alert'),
    by: z.enum(['guard', 'tune']),
    reason: z.string(),
    evidence: z.array(z.string()),
  }),
  z.object({ ...base, kind: z.literal('recovered'), trial: z.number(), settings: z.array(setting), reason: z.string() }),
  z.object({ ...base, kind: z.literal('persisted'), path: z.string() }),
  z.object({
    ...base,
    kind: z.literal('cost'),
    /** Options of the measured set, against the unit without autoharden's drop-ins. */
    options: z.array(z.string()),
    verdict: z.enum(['within', 'over', 'undecided']),
    ratio: z.number(),
    spread: z.number(),
    lower: z.number().nullable(),
    upper: z.number().nullable(),
    pairs: z.number(),
    budget: z.number(),
    atBound: z.boolean(),
    description: z.string(),
  }),
  /** A phase of the finish (or the search as a whole) began or ended: a resumed tune continues
   * the one begun and not ended, and skips those ended (phaseFold). */
  z.object({
    ...base,
    kind: z.literal('phase'),
    phase: z.enum(['search', 'minimise', 'cost', 'confirm', 'persist']),
    state: z.enum(['begin', 'end']),
    detail: z.string().optional(),
  }),
  /** The accepted set restarted as is on a new platform (systemd or kernel upgraded) and judged
   * by its probes; `platform` is what it was verified on now (upgrade.ts reads it), `options` what
   * the verification rolled back. */
  z.object({
    ...base,
    kind: z.literal('reverify'),
    outcome: z.enum(['ok', 'rolled-back', 'unhealthy']),
    platform: fingerprint.optional().catch(undefined),
    from: fingerprint.optional().catch(undefined),
    changes: z.array(z.string()),
    options: z.array(z.string()),
    reason: z.string(),
  }),
  /** `guard pause|resume`: an admin's maintenance window, during which the guard takes up no
   * failure of the unit; `until` ends a pause by itself (a resume `by: 'expiry'` says when the
   * daemon noticed). Journals written before it have none (core/pause.ts folds them). */
  z.object({
    ...base,
    kind: z.literal('guard'),
    action: z.enum(['pause', 'resume']),
    by: z.enum(['user', 'expiry']),
    until: z.string().optional(),
  }),
  /** The attack battery in the unit's sandbox (tune --audit, core/audit.ts), before or after a tune. */
  z.object({
    ...base,
    kind: z.literal('audit'),
    when: z.enum(['before', 'after']),
    blocked: z.number().int().min(0).max(1000),
    applicable: z.number().int().min(0).max(1000),
    /** Technique ids still possible. */
    possible: z.array(z.string().max(64)).max(1000),
    /** Where the score and the battery disagree (core/auditDisagree.ts lines); absent before it. */
    disagree: z.array(z.string().max(600)).max(64).optional(),
  }),
  z.object({
    ...base,
    kind: z.literal('tune-end'),
    exposureBefore: z.number().nullable(),
    exposureAfter: z.number().nullable(),
    trials: z.number(),
    restarts: z.number(),
    durationMs: z.number(),
    /** Time the probes failed during the tune; absent in journals written before it was measured. */
    downtimeMs: z.number().optional(),
    checks,
    /** false: stopped by --max-restarts/--max-time before the search ended (what it kept is
     * verified); absent in journals written before the limits existed (they ran to the end). */
    complete: z.boolean().optional(),
    stoppedBy: z.string().optional(),
  }),
]);

export type JournalRecord = z.infer<typeof recordSchema>;
type Kind = JournalRecord['kind'];
/** A record before the store stamps time and unit on it. */
export type NewRecord = { [K in Kind]: Omit<Extract<JournalRecord, { kind: K }>, 't' | 'unit'> }[Kind];

/** What a journal file holds, read line by line. Only the last line may be bad (cut short by a
 * crash or a full disk, or garbage a dead writer left): it is a torn tail, after `end`. A bad line
 * with any non-blank line after it is corruption, reported with its line number. */
export type JournalScan =
  | { ok: true; records: JournalRecord[]; end: number; torn?: { line: number; why: string } }
  | { ok: false; line: number; why: string };

/** Splits journal bytes into records. `end` is the byte offset after the last complete valid line:
 * what a writer keeps when it repairs a torn tail. Pure; the store does the I/O. */
export function scanJournal(bytes: Uint8Array): JournalScan {
  const decoder = new TextDecoder();
  const records: JournalRecord[] = [];
  let start = 0;
  let line = 0;
  let end = 0;
  let bad: { line: number; why: string } | undefined;
  while (start < bytes.length) {
    line++;
    const nl = bytes.indexOf(0x0a, start);
    const complete = nl >= 0;
    const stop = complete ? nl + 1 : bytes.length;
    const text = decoder.decode(bytes.subarray(start, complete ? nl : stop));
    start = stop;
    if (!text.trim()) {
      if (complete && !bad) end = stop; // blank lines are harmless; a partial blank one is torn
      continue;
    }
    if (bad) return { ok: false, ...bad };
    const why = complete ? undefined : 'cut short (no newline)';
    if (why) {
      bad = { line, why };
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      bad = { line, why: 'not JSON' };
      continue;
    }
    const r = recordSchema.safeParse(parsed);
    if (!r.success) {
      const issue = r.error.issues[0];
      bad = { line, why: `not a journal record (${issue ? `${issue.path.map(String).join('.') || 'record'}: ${issue.message}` : 'invalid'})` };
      continue;
    }
    records.push(r.data);
    end = stop;
  }
  if (!bad && end < bytes.length) bad = { line, why: 'cut short (no newline)' };
  return bad ? { ok: true, records, end, torn: bad } : { ok: true, records, end };
}

/** Accepted settings in acceptance order; a later accepted rung of the same option replaces the
 * earlier one, a rollback removes. */
export function acceptedSet(records: readonly JournalRecord[]): Setting[] {
  const accepted = new Map<string, Setting>();
  for (const r of records) {
    if (r.kind === 'trial-end' && r.outcome === 'accepted') {
      for (const s of r.settings) {
        accepted.delete(s.option);
        accepted.set(s.option, s);
      }
    } else if (r.kind === 'trial-end' && r.outcome === 'too-costly') {
      // measured after it was accepted: dropped to keep the whole set within the budget
      for (const s of r.settings) if (accepted.get(s.option)?.value === s.value) accepted.delete(s.option);
    } else if (r.kind === 'rollback') {
      for (const o of r.options) accepted.delete(o);
    }
  }
  return [...accepted.values()];
}

/** The trial that began and never ended (the tuner crashed or was killed mid-trial). */
export function unfinishedTrial(
  records: readonly JournalRecord[],
): { trial: number; settings: Setting[] } | undefined {
  let open: { trial: number; settings: Setting[] } | undefined;
  for (const r of records) {
    if (r.kind === 'trial-begin') open = { trial: r.trial, settings: r.settings };
    else if ((r.kind === 'trial-end' || r.kind === 'recovered') && open && r.trial === open.trial) open = undefined;
  }
  return open;
}

/** Options the user rolled back: a later tune must not simply re-apply them. */
export function rolledBackByUser(records: readonly JournalRecord[]): Set<string> {
  const out = new Set<string>();
  for (const r of records) {
    if (r.kind === 'rollback' && r.all) out.clear();
    else if (r.kind === 'rollback' && r.by === 'user') for (const o of r.options) out.add(o);
    if (r.kind === 'trial-end' && r.outcome === 'accepted') for (const s of r.settings) out.delete(s.option);
  }
  return out;
}

/** A trial failed and the unit may still run (or lie) broken: the adaptive search lets the next
 * trial's restart revert it, so a crash in between must restart the unit with the accepted set. */
export function revertPending(records: readonly JournalRecord[]): boolean {
  let pending = false;
  for (const r of records) {
    if (r.kind === 'trial-end') pending = r.outcome !== 'accepted' && r.verdict !== 'not-effective';
    else if (r.kind === 'tune-end' || r.kind === 'recovered' || r.kind === 'rollback') pending = false;
  }
  return pending;
}

export type Phase = Extract<JournalRecord, { kind: 'phase' }>['phase'];

/** Where the last tune stands: the phases it ended, the one it began and did not end (a crash or
 * a stop in between), and how many trials it judged. Only the records since the last tune-begin
 * count: a new tune starts every phase again. */
export interface PhaseFold {
  ended: Set<Phase>;
  open: Phase | undefined;
  trials: number;
}

export function phaseFold(records: readonly JournalRecord[]): PhaseFold {
  let fold: PhaseFold = { ended: new Set(), open: undefined, trials: 0 };
  for (const r of records) {
    if (r.kind === 'tune-begin') fold = { ended: new Set(), open: undefined, trials: 0 };
    else if (r.kind === 'trial-end' && r.verdict !== 'not-effective' && r.verdict !== 'cost') fold.trials++;
    else if (r.kind === 'phase' && r.state === 'begin') {
      fold.ended.delete(r.phase); // begun again: not done until it ends again
      fold.open = r.phase;
    } else if (r.kind === 'phase') {
      fold.ended.add(r.phase);
      if (fold.open === r.phase) fold.open = undefined;
    }
  }
  return fold;
}

/** When the accepted set last changed by a record whose restart comes after it (a rollback, a
 * setting dropped as too costly): a unit whose main process started before that still runs the
 * old set — a rollback killed between its reload and its restart. ms since the epoch. */
export function lastSetChange(records: readonly JournalRecord[]): { at: number; invocation?: string } | undefined {
  let last: { at: number; invocation?: string } | undefined;
  for (const r of records) {
    if (r.kind === 'rollback' && r.options.length > 0) last = { at: Date.parse(r.t), ...(r.invocation ? { invocation: r.invocation } : {}) };
    else if (r.kind === 'trial-end' && r.outcome === 'too-costly') last = { at: Date.parse(r.t) };
  }
  return last;
}

export function lastTrialNumber(records: readonly JournalRecord[]): number {
  let n = 0;
  for (const r of records) if (r.kind === 'trial-begin') n = Math.max(n, r.trial);
  return n;
}

/** option=value pairs rejected since the last tune-begin: a resumed tune does not retry them. */
export function rejectedSinceBegin(records: readonly JournalRecord[]): Set<string> {
  const out = new Set<string>();
  for (const r of records) {
    if (r.kind === 'tune-begin') out.clear();
    if (r.kind === 'trial-end' && r.outcome !== 'accepted' && r.settings.length === 1) {
      out.add(`${r.settings[0]!.option}=${r.settings[0]!.value}`);
    }
  }
  return out;
}

/** The last tune's begin record (its probes, the exposure it started from). */
export function lastTuneBegin(records: readonly JournalRecord[]): Extract<JournalRecord, { kind: 'tune-begin' }> | undefined {
  let last: Extract<JournalRecord, { kind: 'tune-begin' }> | undefined;
  for (const r of records) if (r.kind === 'tune-begin') last = r;
  return last;
}
