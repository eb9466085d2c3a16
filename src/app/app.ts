// The application: every use case behind one interface. LocalApp acts on the state directory
// and systemd in this process; DaemonApp asks the running daemon over D-Bus. The CLI picks one
// (appFor) and only parses flags into requests and formats what comes back.
import type { EnrollSpec } from './enroll.js';
import type { ExportRequest } from './export.js';
import type { GuardPauseRequest, PauseResult } from './guardPause.js';
import type { JournalRequest } from './journal.js';
import type { RollbackRequest, RollbackResult } from './rollback.js';
import type { ScoreRequest, ScoreResult } from './score.js';
import type { StatusRequest, StatusRow } from './status.js';
import type { TuneReport, TuneRequest } from './tune.js';
import type { UnenrollRequest, UnenrollResult } from './unenroll.js';
import type { JournalRecord } from '../core/journal.js';

/** How a tune is stopped: the signal aborts it; received() names what aborted it. */
export interface Stop {
  signal: AbortSignal;
  received(): NodeJS.Signals | undefined;
}

export interface App {
  /** `stopper` is called once the unit passed its checks, just before the first change: from then
   * on a signal stops the tune at a safe point instead of killing the process. */
  tune(req: TuneRequest, stopper: () => Stop): Promise<TuneReport>;
  /** Queues the unit; resolves with its name as enrolled. */
  enroll(req: EnrollSpec): Promise<string>;
  status(req: StatusRequest): Promise<StatusRow[]>;
  journal(req: JournalRequest): Promise<JournalRecord[]>;
  rollback(req: RollbackRequest): Promise<RollbackResult>;
  export(req: ExportRequest): Promise<string>;
  unenroll(req: UnenrollRequest): Promise<UnenrollResult>;
  score(req: ScoreRequest): Promise<ScoreResult>;
  guardPause(req: GuardPauseRequest): Promise<PauseResult>;
  close(): void;
}
