// The one module that talks to systemd's manager over D-Bus (dbus-next 0.10.2 stays behind it).
// A facade over src/adapters/systemd/: bus (calls, reexec retry), jobs (enqueue and wait),
// signals (routing, watched units), queries (unit properties), values (pure conversion), errors.
//
// systemd re-executing itself (daemon-reexec) keeps our bus connection but replaces systemd's:
// on a new owner the adapter re-subscribes, re-checks every job it waits for (a job that is gone
// is settled from the unit's state), retries calls that systemd dropped, and tells the listener.
// Match rules are added exactly once per connection, at connect time (per watched unit, once).
import { Variant, sessionBus, systemBus } from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import type { UnitSnapshot, EffectiveSettings, EffectiveValue } from '../core/types.js';
import type { UnitInfo } from '../engine/ports.js';
import { capLastCap } from './procfs.js';
import { SystemdBus } from './systemd/bus.js';
import { SystemdError } from './systemd/errors.js';
import { JobTracker } from './systemd/jobs.js';
import { DBUS, DBUS_PATH, JOB_REMOVED_MATCH, MANAGER_IFACE, MANAGER_PATH, OWNER_MATCH, SYSTEMD } from './systemd/names.js';
import { UnitQueries } from './systemd/queries.js';
import { SignalRouter, emit, type SystemdEvents } from './systemd/signals.js';
import { convertValue, type HostFacts, type Props } from './systemd/values.js';

export { SystemdError, type SystemdErrorCode } from './systemd/errors.js';
export type { SystemdEvents } from './systemd/signals.js';
export { formatAddress } from './systemd/values.js';
export type { UnitInfo };

export interface ConnectOptions {
  /** D-Bus address; default: DBUS_SYSTEM_BUS_ADDRESS or unix:path=/var/run/dbus/system_bus_socket. */
  address?: string;
  /** Timeout of every method call (dbus-next has none). Default 25 s, like sd-bus. */
  callTimeoutMs?: number;
  /** Timeout of Manager.Reload, which replies only once the reload is done. Default 6 min, like
   * `systemctl daemon-reload`. */
  reloadTimeoutMs?: number;
}

let hostCache: HostFacts | undefined;
/** Read once per process: the kernel's last capability does not change while it runs. */
function host(): HostFacts {
  return (hostCache ??= { capLastCap: capLastCap() });
}

/** Convert one property (signature + dbus-next value) to JSON-safe data, for this host. */
export function convertProperty(name: string, signature: string, value: unknown): EffectiveValue {
  return convertValue(name, signature, value, host());
}

export class Systemd {
  private readonly bus: SystemdBus;
  private readonly queries: UnitQueries;
  private readonly jobs: JobTracker;
  private readonly signals: SignalRouter;
  private events: SystemdEvents = {};

  private constructor(
    bus: MessageBus,
    callTimeoutMs: number,
    private readonly reloadTimeoutMs: number,
  ) {
    this.bus = new SystemdBus(bus, callTimeoutMs, {
      signal: (msg) => this.signals.route(msg),
      managerRestarted: () => void this.afterManagerRestart(),
      failing: (err) => this.jobs.failAll(err),
      closed: (err) => emit(() => this.events.closed?.(err)),
    });
    this.queries = new UnitQueries(this.bus, host());
    this.jobs = new JobTracker(this.bus, (unit) => this.queries.snapshot(unit));
    this.signals = new SignalRouter(this.bus, this.queries, this.jobs, () => this.events);
  }

  /** Connect to the system bus (or opts.address), attach the signal matches once, Subscribe(). */
  static async connect(opts: ConnectOptions = {}): Promise<Systemd> {
    const callTimeoutMs = opts.callTimeoutMs ?? 25_000;
    const reloadTimeoutMs = opts.reloadTimeoutMs ?? 360_000;
    const bus = opts.address ? sessionBus({ busAddress: opts.address }) : systemBus();
    const sd = new Systemd(bus, callTimeoutMs, reloadTimeoutMs);
    try {
      await sd.bus.call(DBUS, DBUS_PATH, DBUS, 'AddMatch', 's', [JOB_REMOVED_MATCH]);
      await sd.bus.call(DBUS, DBUS_PATH, DBUS, 'AddMatch', 's', [OWNER_MATCH]);
      // The reply's sender is systemd's unique name (the bus records it).
      await sd.bus.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, 'Subscribe');
    } catch (e) {
      sd.close();
      throw e;
    }
    return sd;
  }

  /** Major version: Manager.Version "252.38-1~deb12u1" → 252. */
  version(): Promise<number> {
    return this.queries.version();
  }

  /** Manager.Features of the running PID 1, '' when it has none. */
  features(): Promise<string> {
    return this.queries.features();
  }

  /** Property names of the Service interface, read on a service unit. */
  servicePropertyNames(unit: string): Promise<string[]> {
    return this.queries.servicePropertyNames(unit);
  }

  /** LoadUnit, then the unit's state and names (an alias resolves to the unit's canonical Id).
   * Throws NoSuchUnit when systemd finds no such unit. */
  unitInfo(unit: string): Promise<UnitInfo> {
    return this.queries.unitInfo(unit);
  }

  /** What the engine watches while a trial settles. One GetAll over every interface of the unit,
   * so the values come from one moment of systemd's state. */
  snapshot(unit: string): Promise<UnitSnapshot> {
    return this.queries.snapshot(unit);
  }

  /** Effective values of org.freedesktop.systemd1.Service properties; unknown names → null. */
  serviceProperties(unit: string, names: string[]): Promise<EffectiveSettings> {
    return this.queries.serviceProperties(unit, names);
  }

  /** Properties.GetAll of one interface of the unit, as systemd sent them (signature and value
   * untouched): for passing values back to systemd exactly as it wrote them (adapters/auditUnit.ts). */
  rawProperties(unit: string, iface: string): Promise<Props> {
    return this.queries.allProperties(unit, iface);
  }

  /** StartTransientUnit(name, 'fail', properties, []); resolves with that job's JobRemoved result,
   * as start() does. Rejects with Timeout when no result comes within timeoutMs. */
  startTransient(name: string, properties: ReadonlyArray<{ name: string; signature: string; value: unknown }>, timeoutMs: number): Promise<string> {
    const body = properties.map((p) => [p.name, new Variant(p.signature, p.value)]);
    return this.jobs.run('StartTransientUnit', name, timeoutMs, 'ssa(sv)a(sa(sv))', [name, 'fail', body, []]);
  }

  /** Manager.Reload: the reply comes once the reload is done. */
  async reload(timeoutMs = this.reloadTimeoutMs): Promise<void> {
    await this.bus.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, 'Reload', '', [], timeoutMs);
  }

  /** ResetFailedUnit (also clears the start rate limit). A unit that is not loaded is fine. */
  async resetFailed(unit: string): Promise<void> {
    try {
      await this.bus.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, 'ResetFailedUnit', 's', [unit]);
    } catch (e) {
      if (e instanceof SystemdError && e.code === 'NoSuchUnit') return;
      throw e;
    }
  }

  /** RestartUnit(unit, 'replace'); resolves with that job's JobRemoved result: 'done', 'failed',
   * 'timeout', 'canceled', 'dependency', 'skipped', … Rejects with Timeout when no result comes
   * within timeoutMs (the call included). */
  restart(unit: string, timeoutMs: number): Promise<string> {
    return this.jobs.run('RestartUnit', unit, timeoutMs);
  }

  start(unit: string, timeoutMs: number): Promise<string> {
    return this.jobs.run('StartUnit', unit, timeoutMs);
  }

  stop(unit: string, timeoutMs: number): Promise<string> {
    return this.jobs.run('StopUnit', unit, timeoutMs);
  }

  /** The one listener of this connection (replaces any earlier one). */
  setEvents(events: SystemdEvents): void {
    this.events = events;
  }

  /** Report PropertiesChanged/UnitNew of `unit` to the listener from now on. Idempotent. */
  watchUnit(unit: string): Promise<void> {
    return this.signals.watch(unit);
  }

  /** Stop reporting `unit`; removes its match rules. Idempotent. */
  unwatchUnit(unit: string): Promise<void> {
    return this.signals.unwatch(unit);
  }

  /** Units watched now. */
  watchedUnits(): string[] {
    return this.signals.watchedUnits();
  }

  /** True until close() or a bus failure. */
  get connected(): boolean {
    return this.bus.failed === null;
  }

  /** Disconnect. Pending calls and job waits reject with SystemdError('Bus'). Idempotent. */
  close(): void {
    this.bus.fail(new SystemdError('Bus', 'connection closed'));
  }

  /** systemd re-executed (or restarted): re-subscribe, settle jobs whose JobRemoved was lost,
   * then tell the listener. */
  private async afterManagerRestart(): Promise<void> {
    try {
      // systemd carries its subscribers across a re-execution, but not across a restart.
      await this.bus.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, 'Subscribe').catch((e: unknown) => {
        if (!(e instanceof SystemdError && e.dbusName === `${SYSTEMD}.AlreadySubscribed`)) throw e;
      });
      await this.jobs.recheckAll();
    } catch {
      if (this.bus.failed) return;
      // Subscribe failed: the listener still hears of the restart and re-reads what it needs.
    }
    emit(() => this.events.managerRestarted?.());
  }
}
