// What the engine needs from the outside world. Adapters satisfy these structurally; tests may
// hand in their own. The engine is the only place that sequences side effects.
import type { JournalRecord, NewRecord } from '../core/journal.js';
import type { WorkloadSpec } from '../core/cost.js';
import type { UnitObservation } from '../core/observe.js';
import type { SafetyFacts } from '../core/policy.js';
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
}

export interface SystemdPort {
  version(): Promise<number>;
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
  writeTrial(unit: string, settings: readonly Setting[]): string;
  removeTrial(unit: string): boolean;
  hasTrial(unit: string): boolean;
  acceptedWhere(unit: string): Where | undefined;
  writeAccepted(unit: string, settings: readonly Setting[], where: Where): string | undefined;
  readAccepted(unit: string): string | undefined;
}

export interface Ports {
  systemd: SystemdPort;
  journal: JournalPort;
  dropins: DropInPort;
  probe(specs: readonly ProbeSpec[]): Promise<ProbeResult[]>;
  unitLogsSince(unit: string, since: Date): Promise<string[]>;
  /** Read-only look at the running unit: sockets, sessions, files it writes. */
  observe(unit: string): Promise<{ facts: SafetyFacts; logFiles: string[]; observation: UnitObservation }>;
  logOffsets(files: readonly string[]): Record<string, number>;
  isDirectory(path: string): boolean;
  /** Runs the user's workload once: seconds, or the figure it prints. */
  runWorkload(spec: WorkloadSpec, timeoutMs: number): Promise<number>;
  logLinesSince(offsets: Record<string, number>): string[];
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

export type FaultStep = 'after-dropin' | 'after-reload' | 'during-settle' | 'during-probe';

export type ProgressEvent =
  | { type: 'info'; message: string }
  | { type: 'trial'; trial: number; settings: Setting[] }
  | { type: 'verdict'; trial: number; settings: Setting[]; outcome: string; reason: string };
