// The use cases asked of the running daemon over org.autoharden1: each request goes out as its
// use case's D-Bus arguments and its answer comes back decoded (app/useCase.ts). tune and score
// are never the daemon's: they run here (LocalApp).
import type { ApiClient } from '../adapters/dbusApiClient.js';
import { AutohardenError } from '../core/errors.js';
import type { JournalRecord } from '../core/journal.js';
import type { App, Stop } from './app.js';
import type { EnrollSpec } from './enroll.js';
import type { ExportRequest } from './export.js';
import type { GuardPauseRequest, PauseResult } from './guardPause.js';
import type { JournalRequest } from './journal.js';
import { USE_CASES, type RemoteName } from './load.js';
import type { LocalApp } from './local.js';
import type { RollbackRequest, RollbackResult } from './rollback.js';
import type { ScoreRequest, ScoreResult } from './score.js';
import type { StatusRequest, StatusRow } from './status.js';
import type { TuneReport, TuneRequest } from './tune.js';
import type { UnenrollRequest, UnenrollResult } from './unenroll.js';
import type { DBusBinding } from './useCase.js';

/** A slow method waits for the trial under way, then restarts and settles: allow for both. */
const SLOW_MS = 20 * 60_000;

/** How long --wait waits for a daemon that went away to come back. */
const DAEMON_ABSENCE_MS = 120_000;

export interface FollowLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export class DaemonApp implements App {
  constructor(
    private readonly client: ApiClient,
    private readonly local: LocalApp,
  ) {}

  close(): void {
    this.client.close();
  }

  /** The use case's D-Bus method, called with the request's arguments; its decoded answer. */
  private async call<Res>(name: RemoteName, req: unknown): Promise<Res> {
    const b = (await USE_CASES[name]()).dbus as unknown as DBusBinding<unknown, Res, unknown[]>;
    const signature = b.in.map((a) => a.type).join('');
    return b.decode(await this.client.method(b.member, signature, b.toWire(req), b.slow ? SLOW_MS : undefined));
  }

  tune(req: TuneRequest, stopper: () => Stop): Promise<TuneReport> {
    return this.local.tune(req, stopper);
  }
  score(req: ScoreRequest): Promise<ScoreResult> {
    return this.local.score(req);
  }
  enroll(req: EnrollSpec): Promise<string> {
    return this.call('enroll', req);
  }
  status(req: StatusRequest): Promise<StatusRow[]> {
    return this.call('status', req);
  }
  journal(req: JournalRequest): Promise<JournalRecord[]> {
    return this.call('journal', req);
  }
  rollback(req: RollbackRequest): Promise<RollbackResult> {
    return this.call('rollback', req);
  }
  export(req: ExportRequest): Promise<string> {
    return this.call('export', req);
  }
  unenroll(req: UnenrollRequest): Promise<UnenrollResult> {
    return this.call('unenroll', req);
  }
  guardPause(req: GuardPauseRequest): Promise<PauseResult> {
    return this.call('guardPause', req);
  }

  /** Follows a unit until its tuning is over (guarding or failed), saying progress to `log`.
   * Await `ready` before enrolling: subscribed before the daemon can say anything about it. */
  followTuning(unit: string, log: FollowLog): { ready: Promise<void>; done: Promise<StatusRow> } {
    const client = this.client;
    let finish!: (row: StatusRow) => void;
    let abort!: (e: Error) => void;
    const done = new Promise<StatusRow>((resolve, reject) => {
      finish = resolve;
      abort = reject;
    });
    let absent: NodeJS.Timeout | undefined;
    const check = () => {
      this.status({ unit }).then(([row]) => {
        if (row && (row.state === 'guarding' || row.state === 'failed')) finish(row);
        else if (!row?.enrolled) abort(new AutohardenError('Failed', `${unit} is no longer enrolled`));
      }, (e: Error) => abort(e));
    };
    const ready = client.subscribe({
      progress: (_u, state, message) => {
        log.info(message);
        if (state === 'guarding' || state === 'failed') check();
        if (state === 'unenrolled') abort(new AutohardenError('Failed', `${unit} was unenrolled while tuning`));
      },
      trialFinished: (_u, trial, outcome, settings, reason) => log.info(`trial #${trial}: ${outcome}: ${settings} — ${reason}`),
      ownerChanged: (running) => {
        clearTimeout(absent);
        if (running) {
          log.info('the daemon is back; it resumes where it was');
          check();
        } else {
          log.warn(`the daemon went away; waiting up to ${DAEMON_ABSENCE_MS / 1000} s for it to come back`);
          absent = setTimeout(() => abort(new AutohardenError('Failed', 'the autoharden daemon went away and did not come back')), DAEMON_ABSENCE_MS);
        }
      },
    }, unit);
    void done.finally(() => clearTimeout(absent)).catch(() => undefined);
    return { ready, done };
  }
}
