// The daemon's connection to systemd that outlives the bus: a SystemdPort whose calls go to the
// current Systemd connection, and which reconnects (p-retry, with backoff) when the system bus
// drops it — a restart of dbus-daemon. Watched units are watched again on the new connection and
// the listener hears `reconnected`, so it can re-read what it may have missed.
import pRetry from 'p-retry';
import { Systemd, SystemdError, type SystemdEvents } from '../adapters/systemd.js';
import type { EffectiveValue } from '../core/types.js';
import type { SystemdPort, UnitInfo } from '../engine/ports.js';
import type { UnitSnapshot, EffectiveSettings } from '../core/types.js';
import type { Props } from '../adapters/systemd/values.js';

export interface LinkEvents {
  unitChanged?(unit: string, iface: string, changed: Record<string, EffectiveValue>): void;
  /** systemd re-executed (same connection) or the connection was replaced: re-read state. */
  resync?(why: 'daemon-reexec' | 'reconnected'): void;
}

export interface LinkOptions {
  connect: () => Promise<Systemd>;
  onLog?: (level: 'info' | 'warn' | 'error', msg: string) => void;
  /** Give up reconnecting after this long (the daemon then exits and systemd restarts it). */
  maxRetryTimeMs?: number;
  /** Called when reconnecting failed for good. */
  onGiveUp?: (err: Error) => void;
}

export class SystemdLink implements SystemdPort {
  private sd: Systemd | undefined;
  private connecting: Promise<Systemd> | undefined;
  private readonly watched = new Set<string>();
  private events: LinkEvents = {};
  private closed = false;

  constructor(private readonly o: LinkOptions) {}

  setEvents(e: LinkEvents): void {
    this.events = e;
  }

  /** The live connection, (re)connecting first when there is none. */
  async current(): Promise<Systemd> {
    if (this.closed) throw new SystemdError('Bus', 'connection closed');
    if (this.sd?.connected) return this.sd;
    this.connecting ??= this.reconnect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async reconnect(): Promise<Systemd> {
    const first = this.sd === undefined;
    const sd = await pRetry(() => this.o.connect(), {
      retries: 1000,
      minTimeout: 100,
      maxTimeout: 3000,
      maxRetryTime: this.o.maxRetryTimeMs ?? 120_000,
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (!this.closed) this.o.onLog?.('warn', `connecting to systemd over the system bus failed (attempt ${attemptNumber}): ${error.message}`);
      },
      shouldRetry: () => !this.closed,
    }).catch((e: Error) => {
      if (!this.closed) this.o.onGiveUp?.(e);
      throw e;
    });
    if (this.closed) {
      sd.close();
      throw new SystemdError('Bus', 'connection closed');
    }
    sd.setEvents(this.adapterEvents());
    for (const unit of this.watched) await sd.watchUnit(unit);
    this.sd = sd;
    if (!first) {
      this.o.onLog?.('info', 'reconnected to the system bus');
      this.events.resync?.('reconnected');
    }
    return sd;
  }

  private adapterEvents(): SystemdEvents {
    return {
      unitChanged: (unit, iface, changed) => this.events.unitChanged?.(unit, iface, changed),
      managerRestarted: () => {
        this.o.onLog?.('info', 'systemd re-executed: re-subscribed and re-read job and unit state');
        this.events.resync?.('daemon-reexec');
      },
      closed: (err) => {
        if (this.closed) return;
        this.o.onLog?.('warn', `lost the system bus: ${err.message}; reconnecting`);
        // Reconnect now rather than at the next call, so that guarded units stay watched.
        void this.current().catch(() => undefined);
      },
    };
  }

  /** Runs fn on the live connection; once more on a new one if the bus dropped under it. */
  private async with<T>(fn: (sd: Systemd) => Promise<T>): Promise<T> {
    const sd = await this.current();
    try {
      return await fn(sd);
    } catch (e) {
      if (e instanceof SystemdError && e.code === 'Bus' && !sd.connected && !this.closed) return fn(await this.current());
      throw e;
    }
  }

  version(): Promise<number> {
    return this.with((sd) => sd.version());
  }
  features(): Promise<string> {
    return this.with((sd) => sd.features());
  }
  servicePropertyNames(unit: string): Promise<string[]> {
    return this.with((sd) => sd.servicePropertyNames(unit));
  }
  unitInfo(unit: string): Promise<UnitInfo> {
    return this.with((sd) => sd.unitInfo(unit));
  }
  snapshot(unit: string): Promise<UnitSnapshot> {
    return this.with((sd) => sd.snapshot(unit));
  }
  serviceProperties(unit: string, names: string[]): Promise<EffectiveSettings> {
    return this.with((sd) => sd.serviceProperties(unit, names));
  }
  /** Properties.GetAll as systemd sent them (export --format profile reads ExecStart= so). */
  rawProperties(unit: string, iface: string): Promise<Props> {
    return this.with((sd) => sd.rawProperties(unit, iface));
  }
  reload(): Promise<void> {
    return this.with((sd) => sd.reload());
  }
  resetFailed(unit: string): Promise<void> {
    return this.with((sd) => sd.resetFailed(unit));
  }
  restart(unit: string, timeoutMs: number): Promise<string> {
    return this.with((sd) => sd.restart(unit, timeoutMs));
  }

  async watchUnit(unit: string): Promise<void> {
    this.watched.add(unit);
    await this.with((sd) => sd.watchUnit(unit));
  }

  async unwatchUnit(unit: string): Promise<void> {
    this.watched.delete(unit);
    if (this.sd?.connected) await this.sd.unwatchUnit(unit);
  }

  close(): void {
    this.closed = true;
    this.sd?.close();
  }
}
