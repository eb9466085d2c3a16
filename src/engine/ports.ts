// What the engine needs from the outside world. Adapters satisfy these structurally; tests may
// hand in their own. The engine is the only place that sequences side effects.
import type { KernelLogWindow } from '../core/seccompLog.js';
import type { AnalyzeRows } from '../core/analyzeRows.js';
import type { JournalRecord, NewRecord } from '../core/journal.js';
import type { WorkloadSpec } from '../core/cost.js';
import type { UnitObservation } from '../core/observe.js';
import type { Platform } from '../core/platform.js';
import type { SafetyFacts } from '../core/policy.js';
import type { SyscallGroups } from '../core/syscallGroups.js';
import type { EffectiveSettings, ProbeResult, ProbeSpec, Setting, UnitSnapshot } from '../core/types.js';

export interface UnitInfo {
  loadState: string;
  activeState: string;
  subState: string;
  fragmentPath: string;
  dropInPaths: string[];
  needDaemonReload: boolean;
  /** Service.Type ('simple', 'forking', 'notify', …); '' for units that are not services. */
  type: string;
  /** The unit's canonical name (Unit.Id) and every name it is known by (Unit.Names, aliases
   * included): what protectedUnits.ts checks. Optional so that stand-ins may omit them. */
  id?: string;
  names?: string[];
}

export interface SystemdPort {
  version(): Promise<number>;
  /** Manager.Features ('' when absent); stand-ins may omit it (features then unknown). */
  features?(): Promise<string>;
  /** Property names of the Service interface on this unit; stand-ins may omit it. */
  servicePropertyNames?(unit: string): Promise<string[]>;
  unitInfo(unit: string): Promise<UnitInfo>;
  snapshot(unit: string): Promise<UnitSnapshot>;
  serviceProperties(unit: string, names: string[]): Promise<EffectiveSettings>;
  reload(): Promise<void>;
  resetFailed(unit: string): Promise<void>;
  restart(unit: string, timeoutMs: number): Promise<string>;
}

export interface JournalPort {
  read(): JournalRecord[];
  append(rec: NewRecord): JournalRecord;
}

export type Where = 'run' | 'etc';

export interface DropInPort {
  /** `observe`: lines that watch and change nothing (SystemCallLog=), not candidates. */
  writeTrial(unit: string, settings: readonly Setting[], observe?: readonly string[]): string;
  removeTrial(unit: string): boolean;
  hasTrial(unit: string): boolean;
  acceptedWhere(unit: string): Where | undefined;
  writeAccepted(unit: string, settings: readonly Setting[], where: Where): string | undefined;
  readAccepted(unit: string): string | undefined;
}

/** The kernel's seccomp records (adapters/kernelLog.ts): a mark before a window, the records after it. */
export interface KernelLogPort {
  actionsLogged: readonly string[];
  mark(): number;
  scan(mark: number): KernelLogWindow;
}

export interface Ports {
  systemd: SystemdPort;
  journal: JournalPort;
  dropins: DropInPort;
  /** Runs the probes; `signal` cuts a waiting probe short (it fails), `timeoutMs` overrides the
   * configured timeout (the quick re-check after a failure showed). */
  probe(specs: readonly ProbeSpec[], opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<ProbeResult[]>;
  unitLogsSince(unit: string, since: Date): Promise<string[]>;
  /** What the running systemd and kernel offer (read once per tune, on this unit). */
  platform(unit: string): Promise<Platform>;
  /** The running systemd's system call groups (`systemd-analyze syscall-filter`), read once per
   * tune; undefined when unreadable. Without it, SystemCallFilter is judged by the static table. */
  syscallGroups?(): Promise<SyscallGroups | undefined>;
  /** The running `systemd-analyze security` checks of the unit with their weights, read once per
   * tune; undefined when unreadable. Without it, options weigh what the catalog says (252's). */
  exposureRows?(unit: string): Promise<AnalyzeRows | undefined>;
  /** The kernel's seccomp records, or why they cannot be read here. Without it, nothing is learned
   * from them (trials alone find SystemCallFilter). */
  kernelLog?(): KernelLogPort | { unavailable: string };
  /** The unit's processes now and the executables it runs (to attribute kernel records to it). */
  unitIdentity?(unit: string): Promise<{ pids: number[]; exes: string[] }>;
  /** Read-only look at the running unit: sockets, sessions, files it writes. */
  observe(unit: string): Promise<{ facts: SafetyFacts; logFiles: string[]; observation: UnitObservation }>;
  logOffsets(files: readonly string[]): LogOffsets;
  isDirectory(path: string): boolean;
  /** The directory with symlinks resolved; undefined when it does not exist. Without it, learned
   * paths are judged as written. */
  realDir?(path: string): string | undefined;
  /** Whether anything in the directory (bounded, symlinks not followed) changed at or after
   * `since`. Without it, no learned path counts as written. */
  changedSince?(dir: string, since: Date): boolean;
  /** Runs the user's workload once: seconds, or the figure it prints. */
  runWorkload(spec: WorkloadSpec, timeoutMs: number): Promise<number>;
  logLinesSince(offsets: LogOffsets): string[];
  /** Recent lines of the unit's journal and log files, for the baseline of known errors. */
  recentLogs(unit: string, logFiles: readonly string[]): Promise<string[]>;
  exposure(unit: string): Promise<number>;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  now(): Date;
  /** Fault injection for crash tests: dies here when told to (AUTOHARDEN_FAULT=STEP). */
  fault(step: FaultStep): void;
  /** Progress for a person (stderr) or the daemon's signals. */
  progress(event: ProgressEvent): void;
}

/** Where each log file ended and which file it was (device, inode): the engine only hands it
 * back to logLinesSince. */
export type LogOffsets = Record<string, { offset: number; dev: number; ino: number }>;

/** Named points where crash tests kill the process (AUTOHARDEN_FAULT, compose.ts): the four inside
 * a trial, and one in every other journaled step (test/integration/faults.test.ts). */
export const FAULT_STEPS = [
  'after-dropin', 'after-reload', 'during-settle', 'during-probe',
  /** before the confirmation's restart of the whole accepted set */ 'confirm',
  /** before a restart of a prefix while bisecting a failed confirmation */ 'bisect',
  /** before a minimisation trial */ 'minimise',
  /** after one measurement of the cost phase */ 'cost-pair',
  /** after the accepted set is written to /etc, before its record */ 'persist',
  /** after recovery removed the trial file, before its record */ 'recover',
  /** after a rollback's record and drop-in, before its restart */ 'rollback',
  /** in the guard, after its check proved a setting unsettable, before rolling it back */ 'guard',
  /** in the daemon's unenroll, after the unit's journal work, before the enrollment is removed */ 'unenroll',
] as const;
export type FaultStep = (typeof FAULT_STEPS)[number];

export type ProgressEvent =
  | { type: 'info'; message: string }
  | ({ type: 'trial'; trial: number; settings: Setting[] } & ProgressCounts)
  | ({ type: 'verdict'; trial: number; settings: Setting[]; outcome: string; reason: string } & ProgressCounts);

/** How far a tune is, for progress lines ("trial 5/≈16, 7 restarts, ≈1 min left"). Optional: a
 * tune that cannot estimate leaves them out. */
export interface ProgressCounts {
  /** restarts so far, reverts included */
  restarts?: number;
  /** the trials the search expects in all, this one included, plus the confirmation (adaptive): an
   * estimate from the planner's priors, revised as verdicts come. In the numbering of `trial`, which
   * continues the unit's journal: a second tune's first trial may be #12 of ≈20. */
  estimatedTrials?: number;
  /** since the tune began */
  elapsedMs?: number;
}
