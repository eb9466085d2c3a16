// The tune report as a pure fold over what one tune session journaled, plus a few notes for what
// the journal does not say (which trial the search's verdict rests on, inferred rejections).
// The engine owns no report lists: it journals, notes, and folds.
import { unscoredSettings, type Unscored } from './analyzeRows.js';
import type { NewRecord } from './journal.js';
import { outcomeNotes } from './outcomeNotes.js';
import type { SafetyFacts, Setting } from './types.js';

export interface CostSummary {
  options: string[];
  verdict: string;
  ratio: number;
  spread: number;
  description: string;
}

export interface Outcome {
  option: string;
  value: string;
  reason: string;
  /** The catalog's safety class of the option (types.ts SafetyClass): a fact about the option. */
  safety?: string;
  /** Accepted settings only (outcomeNotes.ts), when it applies to this unit: it also confines the
   * login sessions the unit spawns, and a failure its trial could not provoke, in words. */
  confinesSessions?: true;
  note?: string;
}

/** The attack battery before and after a tune (tune --audit): blocked counts, and what moved. */
export interface TuneAudit {
  before?: { blocked: number; applicable: number };
  after?: { blocked: number; applicable: number };
  /** Techniques blocked after and not before. */
  closed: string[];
  /** Techniques blocked before and possible after (a tune never should). */
  opened: string[];
  /** Techniques still possible after. */
  stillPossible: string[];
  /** Where the score and the battery disagree after the tune (core/auditDisagree.ts lines). */
  disagree?: string[];
}

export interface TuneReport {
  unit: string;
  exposureBefore: number;
  exposureAfter: number;
  trials: number;
  restarts: number;
  durationMs: number;
  /** Milliseconds during which the tune's own probes failed (restarts and rejected trials). */
  downtimeMs?: number;
  /** false when --max-restarts or --max-time stopped the tune before its search ended: what it
   * kept is verified, but more might have been kept. */
  complete: boolean;
  /** What stopped it ("--max-restarts 10 reached"), when complete is false. */
  stoppedBy?: string;
  accepted: Outcome[];
  rejected: Outcome[];
  skipped: Outcome[];
  warnings: string[];
  persistedTo?: string;
  /** The measured cost of the accepted set (with --workload). */
  cost?: CostSummary;
  /** Accepted settings in force that `systemd-analyze security` does not count (no check scores
   * them, or it scores the value like a weaker one). Absent in reports written before it. */
  unscored?: Unscored[];
  /** tune --audit: the attack battery before and after. */
  audit?: TuneAudit;
}

/** What the session knows beside its records. */
export type ReportNote =
  /** The search's verdict on one step rests on this trial; `ineffective` options were read back as
   * not applied. (A step may run several trials: learned paths, a check without some of them.) */
  | { kind: 'judged'; trial: number; ineffective: string[]; deferred?: string[] }
  /** This rejected trial is retried with the paths its failure named. */
  | { kind: 'retried'; trial: number }
  /** Rejected without a trial of its own: its failed batch's other half passed. */
  | { kind: 'inferred'; setting: Setting }
  /** The confirmation's bisection points at this setting (its rollback record removes it). */
  | { kind: 'culprit'; setting: Setting; reason: string };

export type ReportEvent = NewRecord | ReportNote;

/** Counters and texts the session measures itself. */
export type ReportBase = Pick<TuneReport, 'unit' | 'exposureBefore' | 'exposureAfter' | 'trials' | 'restarts' | 'durationMs' | 'downtimeMs'> & {
  warnings: readonly string[];
  /** The catalog's safety class by option name. */
  safety: ReadonlyMap<string, string | undefined>;
  /** Whether the running analyze scores an option (analyzeRows.ts scoredBy); without it the
   * report lists no unscored settings. */
  scored?: (option: string) => boolean;
  /** What observation showed about login sessions; without it the notes say nothing of them. */
  facts?: Pick<SafetyFacts, 'sessionEvidence' | 'sessionsStayInUnit'>;
  /** Set when the tune's limits stopped it (the report is then not complete). */
  stoppedBy?: string;
};

export const NOT_APPLIED = 'systemd did not apply it (read back over D-Bus)';

/** Folds one session's events, in the order they happened, into its report. */
export function foldReport(base: ReportBase, events: readonly ReportEvent[]): TuneReport {
  const report: TuneReport = {
    unit: base.unit, exposureBefore: base.exposureBefore, exposureAfter: base.exposureAfter, trials: base.trials,
    restarts: base.restarts, durationMs: base.durationMs, ...(base.downtimeMs !== undefined ? { downtimeMs: base.downtimeMs } : {}), complete: base.stoppedBy === undefined,
    ...(base.stoppedBy !== undefined ? { stoppedBy: base.stoppedBy } : {}),
    accepted: [], rejected: [], skipped: [], warnings: [...base.warnings],
  };
  const out = (s: { option: string; value: string }, reason: string): Outcome => ({ option: s.option, value: s.value, reason, safety: base.safety.get(s.option) });
  const accept = (settings: readonly Setting[], reason: string) => {
    report.accepted = report.accepted.filter((a) => !settings.some((s) => s.option === a.option));
    report.accepted.push(...settings.map((s) => ({ ...out(s, reason), ...outcomeNotes(s.option, base.facts) })));
  };
  const begun = new Map<number, Setting[]>();
  const ended = new Map<number, Extract<NewRecord, { kind: 'trial-end' }>>();
  let minimising = false;
  for (const e of events) {
    switch (e.kind) {
      case 'skipped':
        report.skipped.push(out(e, e.reason));
        break;
      case 'phase':
        if (e.phase === 'minimise') minimising = e.state === 'begin';
        break;
      case 'trial-begin':
        begun.set(e.trial, e.settings);
        break;
      case 'trial-end':
        ended.set(e.trial, e);
        if (e.outcome === 'too-costly') {
          const drop = e.settings[0]!;
          report.accepted = report.accepted.filter((a) => a.option !== drop.option);
          report.rejected.push(out(drop, `too-costly: ${e.reason}`));
        } else if (minimising) {
          if (e.outcome === 'accepted') accept(e.settings, e.reason);
          else report.rejected.push(...e.settings.map((s) => out(s, e.reason)));
        }
        break;
      case 'retried': {
        const settings = begun.get(e.trial) ?? [];
        const reason = ended.get(e.trial)?.reason ?? '';
        if (settings.length === 1) report.rejected.push(...settings.map((s) => ({ option: s.option, value: s.value, reason: `${reason} (retrying with the paths it named)` })));
        break;
      }
      case 'judged': {
        const settings = begun.get(e.trial) ?? [];
        const end = ended.get(e.trial);
        for (const s of settings) if (e.ineffective.includes(s.option)) report.rejected.push(out(s, NOT_APPLIED));
        const tried = settings.filter((s) => !e.ineffective.includes(s.option) && !e.deferred?.includes(s.option));
        if (end?.outcome === 'accepted') accept(tried, end.reason);
        // A failed batch of several says only that one of them breaks; the planner splits it.
        else if (tried.length === 1) report.rejected.push(out(tried[0]!, end?.reason ?? ''));
        break;
      }
      case 'inferred': {
        const s = e.setting;
        if (!report.rejected.some((x) => x.option === s.option && x.value === s.value)) {
          report.rejected.push(out(s, 'its batch failed and everything else in it passed'));
        }
        break;
      }
      case 'rollback':
        report.accepted = report.accepted.filter((a) => !e.options.includes(a.option));
        break;
      case 'culprit':
        report.rejected.push({ option: e.setting.option, value: e.setting.value, reason: `confirmation failed: ${e.reason}` });
        break;
      case 'cost':
        report.cost = { options: e.options, verdict: e.verdict, ratio: e.ratio, spread: e.spread, description: e.description };
        break;
      case 'persisted':
        report.persistedTo = e.path;
        break;
      default:
        break;
    }
  }
  if (base.scored) report.unscored = unscoredSettings(report.accepted, base.scored);
  return report;
}
