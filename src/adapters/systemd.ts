// The one module that talks to systemd's manager over D-Bus (dbus-next 0.10.2 stays behind it).
//
// Built on dbus-next's low-level API (Message + bus.call) rather than its proxy objects: proxies
// introspect every unit object (one extra round trip and an XML parse each) and add a match rule
// per signal listener that is never reference-counted correctly (reference §6). Here the match
// rules are added exactly once per connection, at connect time, and every call carries a timeout.
//
// Conversions (all values handed out are JSON-safe: no BigInt, no Buffer):
//   b → boolean; s/o/g → string; y/n/q/i/u/d → number; t/x → number (see maskUint64 below);
//   as → string[]; (bas) → {allow, items}; a(iayu) → [{family, address, prefix}];
//   ay → lower-case hex; anything else → best-effort text (string[] for arrays, fields joined by
//   a space, e.g. DeviceAllow a(ss) → ["char-rtc r"]).
//
// systemd re-executing itself (daemon-reexec) keeps our bus connection but replaces systemd's:
// org.freedesktop.systemd1 gets a new owner (NameOwnerChanged), calls in flight fail with NoReply,
// and a job that finishes while systemd is away never gets its JobRemoved. On a new owner the
// adapter re-subscribes, re-checks every job it waits for (a job that is gone is settled from the
// unit's state), retries calls that systemd dropped, and tells the listener (setEvents).
// Watched units (watchUnit) report PropertiesChanged and UnitNew through the same listener, with
// one match rule per watched unit added once.
import { v6Text } from '../core/cidr.js';
import { readFileSync } from 'node:fs';
import { DBusError, Message, MessageType, sessionBus, systemBus } from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import type { EffectiveSettings, EffectiveValue, UnitSnapshot } from '../core/types.js';

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

export type SystemdErrorCode =
  | 'NoSuchUnit' // unit not found (LoadState not-found) or not loaded
  | 'Timeout' // no reply / no JobRemoved within the time allowed
  | 'Bus' // the connection failed or was closed; systemd is not on the bus
  | 'JobFailed' // systemd refused to enqueue a job (masked, bad setting, destructive transaction, …)
  | 'AccessDenied' // not privileged enough (polkit / bus policy)
  | 'InvalidArgs' // e.g. a malformed unit name
  | 'Protocol' // a reply we cannot make sense of
  | 'Failed'; // any other D-Bus error reply

export class SystemdError extends Error {
  readonly code: SystemdErrorCode;
  /** The D-Bus error name, when the error came from a reply. */
  readonly dbusName: string | undefined;
  constructor(code: SystemdErrorCode, message: string, dbusName?: string) {
    super(message);
    this.name = 'SystemdError';
    this.code = code;
    this.dbusName = dbusName;
  }
}

import type { UnitInfo } from '../engine/ports.js';

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

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER_IFACE = 'org.freedesktop.systemd1.Manager';
const SERVICE_IFACE = 'org.freedesktop.systemd1.Service';
const PROPS_IFACE = 'org.freedesktop.DBus.Properties';
const JOB_IFACE = 'org.freedesktop.systemd1.Job';
const DBUS = 'org.freedesktop.DBus';
const DBUS_PATH = '/org/freedesktop/DBus';

// Added once per connection. The bus delivers JobRemoved only from the current owner of
// org.freedesktop.systemd1; NameOwnerChanged tells us who that is across a daemon-reexec.
const JOB_REMOVED_MATCH = `type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER_IFACE}',member='JobRemoved'`;
const OWNER_MATCH = `type='signal',sender='${DBUS}',path='${DBUS_PATH}',interface='${DBUS}',member='NameOwnerChanged',arg0='${SYSTEMD}'`;

const unitMatches = (unit: string, path: string): string[] => [
  `type='signal',sender='${SYSTEMD}',path='${path}',interface='${PROPS_IFACE}',member='PropertiesChanged'`,
  `type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER_IFACE}',member='UnitNew',arg0='${unit}'`,
];

/** JobRemoved results kept for jobs whose enqueue call has not returned yet (a bound, not a quota). */
const MAX_BUFFERED_RESULTS = 4096;

/** Errors that mean systemd left the bus under the call (daemon-reexec): retried once it is back. */
const PEER_GONE = new Set([
  'org.freedesktop.DBus.Error.NoReply',
  'org.freedesktop.DBus.Error.ServiceUnknown',
  'org.freedesktop.DBus.Error.NameHasNoOwner',
  'org.freedesktop.DBus.Error.Spawn.ChildExited',
  'org.freedesktop.DBus.Error.Spawn.ChildSignaled',
  'org.freedesktop.DBus.Error.Spawn.Failed',
  'org.freedesktop.DBus.Error.Spawn.FailedToSetup',
  'org.freedesktop.DBus.Error.Spawn.ServiceNotFound',
]);
/** How long a call that failed with NoReply waits for systemd's NameOwnerChanged to show up. */
const OWNER_GRACE_MS = 1000;
/** Retries of one call across systemd's re-executions. */
const MAX_PEER_RETRIES = 3;

interface Pending {
  fail(err: SystemdError): void;
}

interface JobWaiter {
  unit: string;
  resolve(result: string): void;
  fail(err: SystemdError): void;
}

type Props = Record<string, { signature: string; value: unknown }>;

export class Systemd {
  private readonly pending = new Set<Pending>();
  private readonly jobWaiters = new Map<string, JobWaiter>();
  private readonly jobResults = new Map<string, string>();
  private readonly unitPaths = new Map<string, string>();
  /** Enqueue calls (RestartUnit, …) awaiting their reply: while > 0, JobRemoved results for
   * jobs nobody waits for yet are buffered by job path. */
  private enqueuing = 0;
  /** Unique bus name of systemd; signals from anyone else are ignored. */
  private owner: string | null = null;
  /** Bumped whenever org.freedesktop.systemd1 gets a (new) owner. */
  private ownerEpoch = 0;
  /** systemd left the bus (NameOwnerChanged to nobody) and has not come back yet. */
  private ownerLost = false;
  private readonly ownerWaiters = new Set<() => void>();
  private everSubscribed = false;
  /** Watched units by object path. */
  private readonly watched = new Map<string, string>();
  private events: SystemdEvents = {};
  private failure: SystemdError | null = null;

  private constructor(
    private readonly bus: MessageBus,
    private readonly callTimeoutMs: number,
    private readonly reloadTimeoutMs: number,
  ) {
    // Without an 'error' listener an EventEmitter error would crash the process.
    bus.on('error', (err: unknown) => {
      this.fail(new SystemdError('Bus', `D-Bus connection failed: ${errorText(err)}`));
    });
    // dbus-next emits no event when the peer closes the socket; watch the stream itself so that
    // pending calls fail now rather than at their timeout.
    const stream = (bus as unknown as { _connection?: { stream?: NodeJS.EventEmitter } })._connection?.stream;
    stream?.on?.('close', () => this.fail(new SystemdError('Bus', 'D-Bus connection closed')));
    bus.on('message', (msg: Message) => this.onMessage(msg));
  }

  /** Connect to the system bus (or opts.address), attach the signal matches once, Subscribe(). */
  static async connect(opts: ConnectOptions = {}): Promise<Systemd> {
    const callTimeoutMs = opts.callTimeoutMs ?? 25_000;
    const reloadTimeoutMs = opts.reloadTimeoutMs ?? 360_000;
    const bus = opts.address ? sessionBus({ busAddress: opts.address }) : systemBus();
    const sd = new Systemd(bus, callTimeoutMs, reloadTimeoutMs);
    try {
      await sd.call(DBUS, DBUS_PATH, DBUS, 'AddMatch', 's', [JOB_REMOVED_MATCH]);
      await sd.call(DBUS, DBUS_PATH, DBUS, 'AddMatch', 's', [OWNER_MATCH]);
      // The reply's sender is systemd's unique name (call() records it).
      await sd.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, 'Subscribe');
    } catch (e) {
      sd.close();
      throw e;
    }
    return sd;
  }

  /** Major version: Manager.Version "252.38-1~deb12u1" → 252. */
  async version(): Promise<number> {
    const [v] = await this.call(SYSTEMD, MANAGER_PATH, PROPS_IFACE, 'Get', 'ss', [MANAGER_IFACE, 'Version']);
    const text = String(variantValue(v) ?? '');
    const m = /^\s*v?(\d+)/.exec(text);
    if (!m) throw new SystemdError('Protocol', `cannot parse systemd version "${text}"`);
    return Number(m[1]);
  }

  /** LoadUnit, then the unit's state and names (an alias resolves to the unit's canonical Id).
   * Throws NoSuchUnit when systemd finds no such unit. */
  async unitInfo(unit: string): Promise<UnitInfo> {
    const props = await this.allProperties(unit, '');
    const loadState = str(props.LoadState);
    if (!loadState) throw new SystemdError('Protocol', `unit ${unit} has no LoadState`);
    if (loadState === 'not-found') throw new SystemdError('NoSuchUnit', `unit ${unit} not found`);
    const id = str(props.Id) || unit;
    return {
      loadState,
      activeState: str(props.ActiveState),
      subState: str(props.SubState),
      fragmentPath: str(props.FragmentPath),
      dropInPaths: strings(props.DropInPaths),
      needDaemonReload: props.NeedDaemonReload?.value === true,
      // All interfaces come back merged; Mount has a "Type" too, so only trust it for services.
      type: id.endsWith('.service') ? str(props.Type) : '',
      id,
      names: strings(props.Names).length ? strings(props.Names) : [id],
    };
  }

  /** What the engine watches while a trial settles. One GetAll over every interface of the unit,
   * so the values come from one moment of systemd's state. */
  async snapshot(unit: string): Promise<UnitSnapshot> {
    const p = await this.allProperties(unit, '');
    return {
      activeState: str(p.ActiveState),
      subState: str(p.SubState),
      result: str(p.Result),
      invocationId: p.InvocationID ? hex(p.InvocationID.value) : '',
      nRestarts: num(p.NRestarts),
      mainPid: num(p.MainPID),
      execMainCode: num(p.ExecMainCode),
      execMainStatus: num(p.ExecMainStatus),
      controlPid: num(p.ControlPID),
      execMainStartMono: p.ExecMainStartTimestampMonotonic ? num(p.ExecMainStartTimestampMonotonic) : undefined,
      execMainHandoffMono: p.ExecMainHandoffTimestampMonotonic ? num(p.ExecMainHandoffTimestampMonotonic) : undefined,
      execMainStartRealtime: p.ExecMainStartTimestamp ? num(p.ExecMainStartTimestamp) : undefined,
    };
  }

  /** Effective values of org.freedesktop.systemd1.Service properties; unknown names → null. */
  async serviceProperties(unit: string, names: string[]): Promise<EffectiveSettings> {
    let props: Props;
    try {
      props = await this.allProperties(unit, SERVICE_IFACE);
    } catch (e) {
      // Not a service: the object has no such interface.
      if (e instanceof SystemdError && e.dbusName === 'org.freedesktop.DBus.Error.UnknownInterface') props = {};
      else throw e;
    }
    const out: EffectiveSettings = {};
    for (const name of names) {
      const v = props[name];
      out[name] = v ? convertProperty(name, v.signature, v.value) : null;
    }
    return out;
  }

  /** Manager.Reload: the reply comes once the reload is done. */
  async reload(timeoutMs = this.reloadTimeoutMs): Promise<void> {
    await this.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, 'Reload', '', [], timeoutMs);
  }

  /** ResetFailedUnit (also clears the start rate limit). A unit that is not loaded is fine. */
  async resetFailed(unit: string): Promise<void> {
    try {
      await this.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, 'ResetFailedUnit', 's', [unit]);
    } catch (e) {
      if (e instanceof SystemdError && e.code === 'NoSuchUnit') return;
      throw e;
    }
  }

  /** RestartUnit(unit, 'replace'); resolves with that job's JobRemoved result: 'done', 'failed',
   * 'timeout', 'canceled', 'dependency', 'skipped', … Rejects with Timeout when no result comes
   * within timeoutMs (the call included). */
  restart(unit: string, timeoutMs: number): Promise<string> {
    return this.runJob('RestartUnit', unit, timeoutMs);
  }

  start(unit: string, timeoutMs: number): Promise<string> {
    return this.runJob('StartUnit', unit, timeoutMs);
  }

  stop(unit: string, timeoutMs: number): Promise<string> {
    return this.runJob('StopUnit', unit, timeoutMs);
  }

  /** The one listener of this connection (replaces any earlier one). */
  setEvents(events: SystemdEvents): void {
    this.events = events;
  }

  /** Report PropertiesChanged/UnitNew of `unit` to the listener from now on. Idempotent. */
  async watchUnit(unit: string): Promise<void> {
    const path = await this.unitPath(unit);
    if (this.watched.get(path) === unit) return;
    this.watched.set(path, unit);
    try {
      for (const rule of unitMatches(unit, path)) await this.call(DBUS, DBUS_PATH, DBUS, 'AddMatch', 's', [rule]);
    } catch (e) {
      this.watched.delete(path);
      throw e;
    }
  }

  /** Stop reporting `unit`; removes its match rules. Idempotent. */
  async unwatchUnit(unit: string): Promise<void> {
    const path = this.unitPaths.get(unit);
    if (!path || this.watched.get(path) !== unit) return;
    this.watched.delete(path);
    for (const rule of unitMatches(unit, path)) {
      await this.call(DBUS, DBUS_PATH, DBUS, 'RemoveMatch', 's', [rule]).catch(() => undefined);
    }
  }

  /** Units watched now. */
  watchedUnits(): string[] {
    return [...this.watched.values()];
  }

  /** True until close() or a bus failure. */
  get connected(): boolean {
    return this.failure === null;
  }

  /** Disconnect. Pending calls and job waits reject with SystemdError('Bus'). Idempotent. */
  close(): void {
    this.fail(new SystemdError('Bus', 'connection closed'));
  }

  // ---------------------------------------------------------------------------------------------

  private async runJob(method: string, unit: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let outcome: string | Promise<string>;
    this.enqueuing++;
    try {
      let job: string;
      try {
        const [path] = await this.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, method, 'ss', [unit, 'replace'],
          Math.min(this.callTimeoutMs, timeoutMs));
        if (typeof path !== 'string') throw new SystemdError('Protocol', `${method} returned no job path`);
        job = path;
      } catch (e) {
        if (e instanceof SystemdError && e.code === 'Failed' && e.dbusName?.startsWith(`${SYSTEMD}.`)) {
          throw new SystemdError('JobFailed', e.message, e.dbusName);
        }
        throw e;
      }
      // The result may already be here: JobRemoved can arrive in the same socket read as the
      // reply (dbus-next handles a whole read before this continuation runs) or even earlier.
      const early = this.jobResults.get(job);
      this.jobResults.delete(job);
      // waitJob registers its waiter synchronously, so nothing falls between buffer and waiter.
      outcome = early ?? this.waitJob(job, unit, Math.max(0, deadline - Date.now()));
    } finally {
      if (--this.enqueuing === 0) this.jobResults.clear();
    }
    return outcome;
  }

  private waitJob(job: string, unit: string, timeoutMs: number): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.jobWaiters.delete(job);
        reject(new SystemdError('Timeout', `job ${job} for ${unit} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      this.jobWaiters.set(job, {
        unit,
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        fail: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });
  }

  private onMessage(msg: Message): void {
    if (msg.type !== MessageType.SIGNAL) return;
    const body: unknown[] = Array.isArray(msg.body) ? msg.body : [];
    if (msg.interface === DBUS && msg.member === 'NameOwnerChanged') {
      if (msg.sender !== DBUS || body[0] !== SYSTEMD) return;
      this.ownerChanged(typeof body[2] === 'string' && body[2] !== '' ? body[2] : null);
      return;
    }
    // Anyone may send us a unicast signal; only systemd's own count.
    if (this.owner === null || msg.sender !== this.owner) return;
    if (msg.interface === PROPS_IFACE && msg.member === 'PropertiesChanged') {
      const unit = this.watched.get(msg.path);
      const [iface, changed] = body;
      if (!unit || typeof iface !== 'string' || !changed || typeof changed !== 'object') return;
      const values: Record<string, EffectiveValue> = {};
      for (const [k, v] of Object.entries(changed as Record<string, unknown>)) {
        if (v && typeof v === 'object' && 'signature' in v && 'value' in v) {
          values[k] = convertProperty(k, String((v as { signature: unknown }).signature), (v as { value: unknown }).value);
        }
      }
      this.emit(() => this.events.unitChanged?.(unit, iface, values));
      return;
    }
    if (msg.interface === MANAGER_IFACE && msg.member === 'UnitNew' && msg.path === MANAGER_PATH) {
      const [unit] = body;
      if (typeof unit === 'string' && [...this.watched.values()].includes(unit)) this.emit(() => this.events.unitChanged?.(unit, '', {}));
      return;
    }
    if (msg.interface !== MANAGER_IFACE || msg.member !== 'JobRemoved' || msg.path !== MANAGER_PATH) return;
    const [, job, , result] = body;
    if (typeof job !== 'string' || typeof result !== 'string') return;
    const waiter = this.jobWaiters.get(job);
    if (waiter) {
      this.jobWaiters.delete(job);
      waiter.resolve(result);
      return;
    }
    if (this.enqueuing === 0) return;
    this.jobResults.set(job, result);
    if (this.jobResults.size > MAX_BUFFERED_RESULTS) {
      const oldest = this.jobResults.keys().next().value;
      if (oldest !== undefined) this.jobResults.delete(oldest);
    }
  }

  /** NameOwnerChanged for org.freedesktop.systemd1. A new owner after a known one is systemd
   * re-executed (or restarted): re-subscribe, settle jobs whose JobRemoved was lost, report. */
  private ownerChanged(next: string | null): void {
    const prev = this.owner;
    this.owner = next;
    if (next === null) {
      this.ownerLost = true;
      return;
    }
    this.ownerLost = false;
    this.ownerEpoch++;
    for (const wake of [...this.ownerWaiters]) wake();
    // Before our first Subscribe succeeded, connect() subscribes to whoever owns the name.
    if (next !== prev && this.everSubscribed) void this.afterManagerRestart();
  }

  private async afterManagerRestart(): Promise<void> {
    try {
      // systemd carries its subscribers across a re-execution, but not across a restart.
      await this.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, 'Subscribe').catch((e: unknown) => {
        if (!(e instanceof SystemdError && e.dbusName === `${SYSTEMD}.AlreadySubscribed`)) throw e;
      });
      // A job that ended while systemd was away has no JobRemoved coming: settle it from the
      // unit's state. One that still exists will send its JobRemoved to the subscription.
      await Promise.all([...this.jobWaiters.keys()].map((job) => this.recheckJob(job)));
    } catch {
      if (this.failure) return;
      // Subscribe failed: the listener still hears of the restart and re-reads what it needs.
    }
    this.emit(() => this.events.managerRestarted?.());
  }

  private async recheckJob(job: string): Promise<void> {
    const waiter = this.jobWaiters.get(job);
    if (!waiter) return;
    try {
      await this.call(SYSTEMD, job, PROPS_IFACE, 'Get', 'ss', [JOB_IFACE, 'State']);
      return; // still queued or running
    } catch (e) {
      if (!(e instanceof SystemdError) || e.code === 'Bus' || e.code === 'Timeout') return;
    }
    const snap = await this.snapshot(waiter.unit).catch(() => undefined);
    if (this.jobWaiters.get(job) !== waiter) return; // JobRemoved came meanwhile
    this.jobWaiters.delete(job);
    const up = snap && ['active', 'reloading', 'activating'].includes(snap.activeState);
    waiter.resolve(up ? 'done' : 'failed');
  }

  /** Resolves true once systemd has an owner newer than `epoch`, false after `ms`. */
  private ownerAfter(epoch: number, ms: number): Promise<boolean> {
    const ready = () => this.failure !== null || (!this.ownerLost && this.ownerEpoch > epoch);
    if (ready()) return Promise.resolve(this.failure === null);
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.ownerWaiters.delete(wake);
        resolve(ok);
      };
      const wake = () => {
        if (ready()) done(this.failure === null);
      };
      const timer = setTimeout(() => done(false), Math.max(0, ms));
      this.ownerWaiters.add(wake);
    });
  }

  /** Listener calls never throw into the message loop. */
  private emit(fn: () => void): void {
    try {
      fn();
    } catch {
      // the listener's problem, not the connection's
    }
  }

  private async unitPath(unit: string): Promise<string> {
    const cached = this.unitPaths.get(unit);
    if (cached) return cached;
    const [path] = await this.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, 'LoadUnit', 's', [unit]);
    if (typeof path !== 'string') throw new SystemdError('Protocol', `LoadUnit(${unit}) returned no path`);
    // A unit's object path depends only on its name, and systemd loads a unit on demand when its
    // path is addressed, so the path stays valid across garbage collection and reloads.
    this.unitPaths.set(unit, path);
    return path;
  }

  /** Properties.GetAll; iface '' means every interface of the object (sd-bus merges them). */
  private async allProperties(unit: string, iface: string): Promise<Props> {
    const path = await this.unitPath(unit);
    const [dict] = await this.call(SYSTEMD, path, PROPS_IFACE, 'GetAll', 's', [iface]);
    if (!dict || typeof dict !== 'object') throw new SystemdError('Protocol', `GetAll on ${path} returned no dictionary`);
    const out: Props = {};
    for (const [k, v] of Object.entries(dict as Record<string, unknown>)) {
      if (v && typeof v === 'object' && 'signature' in v && 'value' in v) {
        out[k] = { signature: String((v as { signature: unknown }).signature), value: (v as { value: unknown }).value };
      }
    }
    return out;
  }

  /** One method call with a timeout. Calls to systemd that it dropped by going away (daemon-reexec)
   * are sent again once it is back, within the same timeout. Errors come back as SystemdError. */
  private async call(
    destination: string,
    path: string,
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
    timeoutMs = this.callTimeoutMs,
  ): Promise<unknown[]> {
    if (destination !== SYSTEMD) return this.callOnce(destination, path, iface, member, signature, body, timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (this.ownerLost) await this.ownerAfter(this.ownerEpoch, deadline - Date.now());
      const epoch = this.ownerEpoch;
      try {
        const out = await this.callOnce(destination, path, iface, member, signature, body, Math.max(1, deadline - Date.now()));
        if (member === 'Subscribe') this.everSubscribed = true;
        return out;
      } catch (e) {
        if (attempt >= MAX_PEER_RETRIES || !(e instanceof SystemdError) || !PEER_GONE.has(e.dbusName ?? '')) throw e;
        // NameOwnerChanged may trail the error a little; a lasting absence waits up to the deadline.
        const wait = this.ownerLost ? deadline - Date.now() : Math.min(OWNER_GRACE_MS, deadline - Date.now());
        if (!(await this.ownerAfter(epoch, wait))) throw e;
      }
    }
  }

  private callOnce(
    destination: string,
    path: string,
    iface: string,
    member: string,
    signature: string,
    body: unknown[],
    timeoutMs: number,
  ): Promise<unknown[]> {
    if (this.failure) return Promise.reject(this.failure);
    const what = `${iface}.${member}`;
    return new Promise<unknown[]>((resolve, reject) => {
      let msg: Message;
      try {
        msg = new Message({ destination, path, interface: iface, member, signature, body });
      } catch (e) {
        reject(new SystemdError('InvalidArgs', `${what}: ${errorText(e)}`));
        return;
      }
      const entry: Pending = {
        fail: (err) => {
          done();
          reject(err);
        },
      };
      const done = (): void => {
        clearTimeout(timer);
        this.pending.delete(entry);
      };
      const timer = setTimeout(() => {
        done();
        this.forgetReplyHandler(msg);
        reject(new SystemdError('Timeout', `${what} on ${path} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.add(entry);
      let sent: Promise<Message | null>;
      try {
        sent = this.bus.call(msg);
      } catch (e) {
        entry.fail(new SystemdError('Bus', `${what}: ${errorText(e)}`));
        return;
      }
      sent.then(
        (reply) => {
          if (!this.pending.has(entry)) return; // timed out or failed meanwhile
          done();
          if (destination === SYSTEMD && reply?.sender?.startsWith(':')) this.owner = reply.sender;
          resolve(Array.isArray(reply?.body) ? reply.body : []);
        },
        (err: unknown) => {
          if (!this.pending.has(entry)) return;
          done();
          reject(mapError(err, `${what} on ${path}`));
        },
      );
    });
  }

  /** dbus-next keeps a reply handler per call forever; drop it when we gave up on the reply. */
  private forgetReplyHandler(msg: Message): void {
    const handlers = (this.bus as unknown as { _methodReturnHandlers?: Record<number, unknown> })._methodReturnHandlers;
    if (handlers && typeof msg.serial === 'number') delete handlers[msg.serial];
  }

  private fail(err: SystemdError): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of [...this.pending]) p.fail(err);
    for (const [job, w] of [...this.jobWaiters]) {
      this.jobWaiters.delete(job);
      w.fail(err);
    }
    this.jobResults.clear();
    for (const wake of [...this.ownerWaiters]) wake();
    try {
      this.bus.disconnect();
    } catch {
      // already gone
    }
    this.emit(() => this.events.closed?.(err));
  }
}

// ---- error mapping -------------------------------------------------------------------------------

function mapError(err: unknown, what: string): SystemdError {
  if (err instanceof SystemdError) return err;
  if (err instanceof DBusError || (err instanceof Error && err.name === 'DBusError')) {
    const name = (err as DBusError).type;
    const text = `${what}: ${(err as DBusError).text || err.message} (${name})`;
    switch (name) {
      case `${SYSTEMD}.NoSuchUnit`:
        return new SystemdError('NoSuchUnit', text, name);
      case 'org.freedesktop.DBus.Error.AccessDenied':
      case 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired':
        return new SystemdError('AccessDenied', text, name);
      case 'org.freedesktop.DBus.Error.InvalidArgs':
        return new SystemdError('InvalidArgs', text, name);
      case 'org.freedesktop.DBus.Error.NoReply':
      case 'org.freedesktop.DBus.Error.Timeout':
      case 'org.freedesktop.DBus.Error.TimedOut':
        return new SystemdError('Timeout', text, name);
      case 'org.freedesktop.DBus.Error.ServiceUnknown':
      case 'org.freedesktop.DBus.Error.NameHasNoOwner':
      case 'org.freedesktop.DBus.Error.Disconnected':
        return new SystemdError('Bus', text, name);
      default:
        return new SystemdError('Failed', text, name);
    }
  }
  return new SystemdError('Bus', `${what}: ${errorText(err)}`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---- value conversion ----------------------------------------------------------------------------

function variantValue(v: unknown): unknown {
  return v && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v;
}

function str(p: { value: unknown } | undefined): string {
  return p && typeof p.value === 'string' ? p.value : '';
}

function num(p: { value: unknown } | undefined): number {
  if (!p) return 0;
  if (typeof p.value === 'number') return p.value;
  if (typeof p.value === 'bigint') return Number(p.value);
  return 0;
}

function strings(p: { value: unknown } | undefined): string[] {
  return p && Array.isArray(p.value) ? p.value.map(String) : [];
}

function hex(v: unknown): string {
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return Buffer.from(v.map(Number)).toString('hex');
  return '';
}

// Bit sets systemd stores in a uint64 whose "everything" value is 2^64-1. Number(2n**64n - 2n)
// === Number(2n**64n - 1n): the low bits (CAP_CHOWN … CAP_NET_BROADCAST) would vanish and bitwise
// operators on such a Number see 0. Keep only the bits that mean something, which fit in 53.
let capMaskCache: bigint | undefined;
function capabilityMask(): bigint {
  if (capMaskCache === undefined) {
    let last = 52;
    try {
      const n = Number.parseInt(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'), 10);
      if (Number.isInteger(n) && n >= 0 && n <= 52) last = n;
    } catch {
      // keep 52: every real capability, and still exact as a Number
    }
    capMaskCache = (1n << BigInt(last + 1)) - 1n;
  }
  return capMaskCache;
}

/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME: RestrictNamespaces holds the
 * allowed set; unrestricted is 2^64-1. */
const NAMESPACE_MASK = 0x00020000n | 0x02000000n | 0x04000000n | 0x08000000n | 0x10000000n | 0x20000000n | 0x40000000n | 0x00000080n;

const UINT64_MASKS: Record<string, () => bigint> = {
  CapabilityBoundingSet: capabilityMask,
  AmbientCapabilities: capabilityMask,
  RestrictNamespaces: () => NAMESPACE_MASK,
};

/** uint64/int64 → number. Bit sets are masked (above); other values above 2^53 (UINT64_MAX meaning
 * "infinity" for limits and timeouts) keep their magnitude but lose their low digits. */
function maskUint64(name: string, v: bigint): number {
  const mask = UINT64_MASKS[name];
  return Number(mask ? v & mask() : v);
}

/** Convert one property (signature + dbus-next value) to JSON-safe data. */
export function convertProperty(name: string, signature: string, value: unknown): EffectiveValue {
  switch (signature) {
    case 'b':
      return value === true;
    case 's':
    case 'o':
    case 'g':
      return String(value);
    case 'y':
    case 'n':
    case 'q':
    case 'i':
    case 'u':
    case 'd':
    case 'h':
      return Number(value);
    case 't':
    case 'x':
      return typeof value === 'bigint' ? maskUint64(name, value) : Number(value);
    case 'as':
    case 'ao':
    case 'ag':
      return Array.isArray(value) ? value.map(String) : [];
    case 'ay':
      return hex(value);
    case '(bas)': {
      const [allow, items] = Array.isArray(value) ? value : [];
      return { allow: allow === true, items: Array.isArray(items) ? items.map(String) : [] };
    }
    case 'a(iayu)':
      return Array.isArray(value)
        ? value.map((e: unknown) => {
            const [family, bytes, prefix] = Array.isArray(e) ? e : [];
            return { family: Number(family), address: formatAddress(Number(family), bytes), prefix: Number(prefix) };
          })
        : [];
    default:
      return fallback(value);
  }
}

function fallback(value: unknown): EffectiveValue {
  if (Array.isArray(value)) return value.map(text);
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.entries(value).map(([k, v]) => `${k}=${text(v)}`);
  }
  return text(value);
}

function text(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map(text).join(' ');
  if (v !== null && typeof v === 'object') {
    if ('signature' in v && 'value' in v) return text((v as { value: unknown }).value);
    return Object.entries(v).map(([k, x]) => `${k}=${text(x)}`).join(' ');
  }
  return String(v);
}

/** AF_INET (2) → dotted quad; AF_INET6 (10) → RFC 5952 text. */
export function formatAddress(family: number, bytes: unknown): string {
  const b = Buffer.isBuffer(bytes) ? bytes : Array.isArray(bytes) ? Buffer.from(bytes.map(Number)) : Buffer.alloc(0);
  if (family === 2 && b.length === 4) return [...b].join('.');
  if (family === 10 && b.length === 16) return v6Text([...b]);
  return b.toString('hex');
}
