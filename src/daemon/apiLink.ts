// org.autoharden1 kept on the bus: serves the API through ApiServer and, when the bus drops the
// connection (dbus-daemon restarted), owns the name again with p-retry. Signals sent while the
// name is away are dropped: nobody could have received them, and status tells the rest.
import pRetry from 'p-retry';
import { ApiServer, type ServerOptions } from '../adapters/dbusApiServer.js';
import { AutohardenError } from '../core/errors.js';
import type { Signals } from './daemon.js';

export interface ApiLinkOptions {
  server: Omit<ServerOptions, 'onClosed'>;
  onLog?: (level: 'info' | 'warn', msg: string) => void;
  /** Owning the name again failed for good: the daemon exits and systemd restarts it. */
  onGiveUp?: (err: Error) => void;
  /** Give up after this long (default 2 minutes). */
  maxRetryTimeMs?: number;
  /** First retry delay (default 100 ms). */
  minTimeoutMs?: number;
}

export class ApiLink implements Signals {
  private server: ApiServer | undefined;
  private closed = false;

  constructor(private readonly o: ApiLinkOptions) {}

  /** Owns the name (retrying while the bus is not there yet). */
  async start(): Promise<void> {
    const server = await pRetry(
      () => ApiServer.start({ ...this.o.server, onClosed: (err) => this.lost(err) }),
      {
        retries: 1000,
        minTimeout: this.o.minTimeoutMs ?? 100,
        maxTimeout: 3000,
        maxRetryTime: this.o.maxRetryTimeMs ?? 120_000,
        // A policy that refuses us will not change its mind.
        shouldRetry: ({ error }) => !this.closed && !(error instanceof AutohardenError && error.code === 'AccessDenied'),
        onFailedAttempt: ({ error, attemptNumber }) => {
          if (!this.closed) this.o.onLog?.('warn', `owning org.autoharden1 failed (attempt ${attemptNumber}): ${error.message}`);
        },
      },
    );
    if (this.closed) {
      server.close();
      return;
    }
    this.server = server;
    this.o.onLog?.('info', 'serving org.autoharden1');
  }

  get serving(): boolean {
    return this.server !== undefined;
  }

  progress(unit: string, state: string, message: string): void {
    this.server?.progress(unit, state, message);
  }

  alert(unit: string, message: string): void {
    this.server?.alert(unit, message);
  }

  trialFinished(unit: string, trial: number, outcome: string, settings: string, reason: string): void {
    this.server?.trialFinished(unit, trial, outcome, settings, reason);
  }

  close(): void {
    this.closed = true;
    this.server?.close();
    this.server = undefined;
  }

  private lost(err: Error): void {
    this.server = undefined;
    if (this.closed) return;
    this.o.onLog?.('warn', `lost org.autoharden1 on the bus (${err.message}); owning it again`);
    this.start().catch((e: Error) => {
      if (!this.closed) this.o.onGiveUp?.(e);
    });
  }
}
