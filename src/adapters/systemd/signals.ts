// Signals from systemd: JobRemoved to the job tracker, PropertiesChanged and UnitNew of watched
// units to the listener. Watched units get one pair of match rules each, added once.
import type { Message } from 'dbus-next';
import type { EffectiveValue } from '../../core/types.js';
import type { SystemdBus } from './bus.js';
import type { SystemdError } from './errors.js';
import type { JobTracker } from './jobs.js';
import { DBUS, DBUS_PATH, MANAGER_IFACE, MANAGER_PATH, PROPS_IFACE, unitMatches } from './names.js';
import type { UnitQueries } from './queries.js';
import { variants } from './values.js';

/** What a connection reports besides call results; one listener per connection (setEvents). */
export interface SystemdEvents {
  /** PropertiesChanged on a watched unit: the interface (org.freedesktop.systemd1.Unit, …Service)
   * and the changed values, converted as serviceProperties() converts them. UnitNew (systemd
   * announces a unit it has not announced since it started) comes with iface '' and no values. */
  unitChanged?(unit: string, iface: string, changed: Record<string, EffectiveValue>): void;
  /** systemd re-executed or restarted (org.freedesktop.systemd1 has a new owner). Called after
   * the adapter re-subscribed and re-checked the jobs it waits for. */
  managerRestarted?(): void;
  /** The connection failed or was closed: every later call rejects with this error. */
  closed?(err: SystemdError): void;
}

/** Listener calls never throw into the message loop. */
export function emit(fn: () => void): void {
  try {
    fn();
  } catch {
    // the listener's problem, not the connection's
  }
}

export class SignalRouter {
  /** Watched units by object path. */
  private readonly watched = new Map<string, string>();

  constructor(
    private readonly bus: SystemdBus,
    private readonly queries: UnitQueries,
    private readonly jobs: JobTracker,
    private readonly events: () => SystemdEvents,
  ) {}

  async watch(unit: string): Promise<void> {
    const path = await this.queries.unitPath(unit);
    if (this.watched.get(path) === unit) return;
    this.watched.set(path, unit);
    try {
      for (const rule of unitMatches(unit, path)) await this.bus.call(DBUS, DBUS_PATH, DBUS, 'AddMatch', 's', [rule]);
    } catch (e) {
      this.watched.delete(path);
      throw e;
    }
  }

  async unwatch(unit: string): Promise<void> {
    const path = this.queries.cachedPath(unit);
    if (!path || this.watched.get(path) !== unit) return;
    this.watched.delete(path);
    for (const rule of unitMatches(unit, path)) {
      await this.bus.call(DBUS, DBUS_PATH, DBUS, 'RemoveMatch', 's', [rule]).catch(() => undefined);
    }
  }

  watchedUnits(): string[] {
    return [...this.watched.values()];
  }

  /** A signal from systemd's current owner. */
  route(msg: Message): void {
    const body: unknown[] = Array.isArray(msg.body) ? msg.body : [];
    if (msg.interface === PROPS_IFACE && msg.member === 'PropertiesChanged') {
      const unit = this.watched.get(msg.path);
      const [iface, changed] = body;
      if (!unit || typeof iface !== 'string' || !changed || typeof changed !== 'object') return;
      const values: Record<string, EffectiveValue> = {};
      for (const [k, v] of Object.entries(variants(changed as Record<string, unknown>))) {
        values[k] = this.queries.convert(k, v.signature, v.value);
      }
      emit(() => this.events().unitChanged?.(unit, iface, values));
      return;
    }
    if (msg.interface === MANAGER_IFACE && msg.member === 'UnitNew' && msg.path === MANAGER_PATH) {
      const [unit] = body;
      if (typeof unit === 'string' && [...this.watched.values()].includes(unit)) emit(() => this.events().unitChanged?.(unit, '', {}));
      return;
    }
    if (msg.interface !== MANAGER_IFACE || msg.member !== 'JobRemoved' || msg.path !== MANAGER_PATH) return;
    const [, job, , result] = body;
    if (typeof job !== 'string' || typeof result !== 'string') return;
    this.jobs.removed(job, result);
  }
}
