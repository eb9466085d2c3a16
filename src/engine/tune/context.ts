// What the phases of one tune share: its options, the catalog looked up by name, the accepted set
// (its one owner in the engine), the trial counter, the log watch, and the events the report is
// folded from. Every record a phase journals goes through record(), so the report sees it.
import type { CandidateInput, Skip } from '../../core/candidates.js';
import type { WorkloadSpec } from '../../core/cost.js';
import type { Candidate, Planner } from '../../core/plan.js';
import { AutohardenError } from '../../core/errors.js';
import type { NewRecord, Phase, PhaseFold } from '../../core/journal.js';
import type { Declarations, SafetyFacts } from '../../core/policy.js';
import { scoredBy, withWeights, type AnalyzeRows } from '../../core/analyzeRows.js';
import { foldReport, type ReportEvent, type ReportNote, type TuneReport } from '../../core/report.js';
import type { WritableScope } from '../../core/paths.js';
import type { Platform } from '../../core/platform.js';
import { withSyscallGroups, type SyscallGroups } from '../../core/syscallGroups.js';
import type { OptionSpec, ProbeSpec, Setting } from '../../core/types.js';
import { hasLimits, msPerRestart, stopReason, type TuneLimits } from '../../core/tuneLimits.js';
import { DowntimeMeter } from '../downtime.js';
import { SyscallWatch } from './syscallWatch.js';
import type { Ports, ProgressCounts, Where } from '../ports.js';

export interface TuneOptions {
  unit: string;
  probes: ProbeSpec[];
  settleMs: number;
  strategy: 'one-at-a-time' | 'adaptive';
  persist: boolean;
  declarations: Declarations;
  signal?: AbortSignal;
  /** Continue the last unfinished tune of this unit (daemon restart) instead of starting anew. */
  resume?: boolean;
  /** Cost-aware tuning: the workload that measures the service, the slowdown it may take
   * (fraction, 0.05 = 5 %), and how many restarts measuring may spend. */
  workload?: WorkloadSpec;
  budget?: number;
  measureRestarts?: number;
  /** --max-restarts, --max-time: stop before a step that would not fit, with what is verified. */
  limits?: TuneLimits;
  /** `apply` (issue 16): search only these candidates; no learned paths, no revision from the
   * kernel's records, no minimisation. Absent: a tune. */
  within?: Within;
}

/** A search kept within a profile's settings (core/applyProfile.ts builds the candidates). */
export interface Within {
  /** Where the settings come from: journaled on tune-begin. */
  profile: { host: string; created: string };
  candidates(i: CandidateInput & { realDir?: (path: string) => string | undefined }): { candidates: Candidate[]; skipped: Skip[] };
  planner(candidates: readonly Candidate[]): Planner;
  /** Failed trials in a row before the accepted set is checked alone (a tune: 2). apply's
   * bisection may fail 1 + ⌈log2 n⌉ times in a row on one culprit; a check between would cost a
   * restart each time. */
  failuresBeforeRevert?: number;
}

/** What one tune run knows about the unit's logs: files to read and errors seen before. */
export interface LogWatch {
  logFiles: string[];
  knownErrors: Set<string>;
}

/** How often one verdict may be judged again after its log lines turned out to be noise: each
 * round costs two restarts and teaches at least one new kind of noise, so a noisy client cannot
 * stall a tune for long. */
export const MAX_NOISE_ROUNDS = 3;
export const WORKLOAD_TIMEOUT_MS = 120_000;

export function allProperties(catalog: readonly OptionSpec[]): string[] {
  return [...new Set(catalog.flatMap((o) => o.properties))];
}

export class TuneContext {
  readonly byName: Map<string, OptionSpec>;
  readonly props: string[];
  readonly safety: Map<string, string | undefined>;
  readonly t0: number;
  /** The accepted set, in acceptance order: folded from the journal at begin, then kept here. */
  accepted: Setting[] = [];
  where: Where = 'run';
  trialNo = 0;
  watch: LogWatch = { logFiles: [], knownErrors: new Set() };
  facts: SafetyFacts | undefined;
  /** What the running systemd and kernel offer; read when the search is planned. */
  platform: Platform | undefined;
  /** The running analyze's checks (weights); undefined: the catalog's weights stand. */
  rows: AnalyzeRows | undefined;
  /** Where learned ReadWritePaths may point (the unit's own state directories and names). */
  scope: WritableScope = { names: [], directories: [] };
  /** The phases of this tune as journaled (I2): a resumed session continues the one begun and
   * skips the ended ones, so a crash in the finish never skips a confirmation or persists a set
   * that failed it. */
  phases: PhaseFold = { ended: new Set(), open: undefined, trials: 0 };
  /** What this session journaled and noted, for the report. */
  readonly events: ReportEvent[] = [];
  readonly counts = { exposureBefore: 0, exposureAfter: 0, trials: 0, restarts: 0, durationMs: 0, downtimeMs: 0 };
  /** Time without service, as the tune's probes saw it. */
  readonly downtime = new DowntimeMeter();
  /** The running systemd's system call groups (undefined: the catalog's table). */
  syscallGroups: SyscallGroups | undefined;
  /** What the kernel's seccomp records show the unit calling. */
  readonly syscalls: SyscallWatch = new SyscallWatch(this);
  readonly warnings: string[] = [];
  /** Why the tune stopped before its search ended (--max-restarts, --max-time); undefined: it did not. */
  stopped: string | undefined;
  /** What the restarts of this session's trials took, for the time a next one will take. */
  readonly timing = { ms: 0, restarts: 0 };
  /** What a resumed tune spent before this session (the daemon restarted): for its limits only. */
  before = { restarts: 0, ms: 0 };
  /** Trials the search still expects after the current one (its planner's estimate). */
  remainingTrials: () => number = () => 0;

  constructor(
    readonly ports: Ports,
    readonly o: TuneOptions,
    public catalog: readonly OptionSpec[],
  ) {
    this.byName = new Map(catalog.map((c) => [c.name, c]));
    this.safety = new Map(catalog.map((c) => [c.name, c.safety]));
    this.props = allProperties(catalog);
    this.t0 = ports.now().getTime();
  }

  /** Judges by the running systemd's system call groups from now on (before the search is
   * planned); without them the catalog keeps its static table. */
  useSyscallGroups(groups: SyscallGroups | undefined): void {
    this.syscallGroups = groups;
    this.catalog = withSyscallGroups(this.catalog, groups);
    for (const spec of this.catalog) this.byName.set(spec.name, spec);
  }

  /** Weighs options by the running analyze's checks from now on (before the search is planned);
   * without them the catalog keeps its weights (systemd 252's table). */
  useWeights(rows: AnalyzeRows | undefined): void {
    this.rows = rows;
    this.catalog = withWeights(this.catalog, rows);
    for (const spec of this.catalog) this.byName.set(spec.name, spec);
  }

  /** Journals a record; the report folds it. */
  record(rec: NewRecord): void {
    this.ports.journal.append(rec);
    this.events.push(rec);
  }

  note(n: ReportNote | NewRecord): void {
    this.events.push(n);
  }

  report(): TuneReport {
    const scored = scoredBy(this.rows, this.catalog);
    const stop = this.stopped ? { stoppedBy: this.stopped } : {};
    return foldReport({ unit: this.o.unit, ...this.counts, warnings: this.warnings, safety: this.safety, ...(this.facts ? { facts: this.facts } : {}), scored, ...stop }, this.events);
  }

  /** Accepts settings: a later rung of an option replaces the earlier one, at the end. */
  accept(settings: readonly Setting[]): void {
    this.accepted = [...this.accepted.filter((a) => !settings.some((s) => s.option === a.option)), ...settings];
  }

  /** Stops at a safe point once the caller's signal fired (the CLI got SIGINT, SIGTERM or SIGHUP):
   * between phases and restarts, where the drop-ins and the journal agree or differ only in a way
   * recovery repairs (an accepted file that is not the journaled set makes it restart the unit). */
  checkAbort(): void {
    if (this.o.signal?.aborted) throw new AutohardenError('Failed', 'interrupted');
  }

  /** Journals a phase's begin or end; a resumed session folds these (phaseFold). */
  phase(phase: Phase, state: 'begin' | 'end', detail?: string): void {
    this.record(detail ? { kind: 'phase', phase, state, detail } : { kind: 'phase', phase, state });
    if (state === 'begin') this.phases.open = phase;
    else {
      this.phases.ended.add(phase);
      if (this.phases.open === phase) this.phases.open = undefined;
    }
  }

  /** Whether a step of `restarts` restarts on `settings` fits the limits with what the finish
   * owes after it reserved (tuneLimits.ts); once it does not, the tune is stopped: said once. */
  mayRun(settings: readonly Setting[], restarts = 2): boolean {
    const limits = this.o.limits;
    if (this.stopped) return false;
    if (!limits || !hasLimits(limits)) return true;
    const { o } = this;
    const { confirm, lost } = this.owed(settings);
    const state = { restarts: this.before.restarts + this.counts.restarts, elapsedMs: this.before.ms + this.elapsedMs(), msPerRestart: msPerRestart(o.settleMs, this.timing) };
    const why = stopReason(limits, state, { restarts, reserve: confirm + lost, reserveMs: confirm * 2 * o.settleMs });
    if (!why) return true;
    this.stopped = why;
    this.ports.progress({ type: 'info', message: `${o.unit}: stopping early: ${why} (${state.restarts} restarts so far; the next trial and the finish need ${restarts + confirm + lost} more); what is kept is verified` });
    return false;
  }

  /** Restarts the finish owes after a step on `settings`: the confirmation (adaptive), and the
   * restart that puts lostOnReload settings in force again after the last reload. */
  private owed(settings: readonly Setting[]): { confirm: number; lost: number } {
    const { o } = this;
    const confirm = o.strategy === 'adaptive' && !this.phases.ended.has('confirm') ? 1 : 0;
    const fragile = [...this.accepted, ...settings].some((s) => this.byName.get(s.option)?.lostOnReload);
    return { confirm, lost: fragile && (o.persist || o.strategy !== 'adaptive') ? 1 : 0 };
  }

  /** Restarts --max-restarts leaves for measuring the cost, what the finish owes kept back;
   * undefined without the limit. */
  restartsLeft(): number | undefined {
    const max = this.o.limits?.maxRestarts;
    if (max === undefined) return undefined;
    const { confirm, lost } = this.owed([]);
    return Math.max(0, max - this.before.restarts - this.counts.restarts - confirm - lost);
  }

  elapsedMs(): number {
    return this.ports.now().getTime() - this.t0;
  }

  /** Progress counts for a trial's events (ports.ts): `estimatedTrials` in the numbering of
   * `trial`, which continues the journal's, plus the confirmation (adaptive). */
  progressCounts(trial: number): ProgressCounts {
    const confirm = this.o.strategy === 'adaptive' && !this.phases.ended.has('confirm') ? 1 : 0;
    return { restarts: this.counts.restarts, estimatedTrials: Math.round(trial + this.remainingTrials() + confirm), elapsedMs: this.elapsedMs() };
  }

  options(): string {
    return this.accepted.map((s) => s.option).join(' ');
  }
}
