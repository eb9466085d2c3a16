// A private dbus-daemon and a fake org.freedesktop.systemd1 on it, for tests of code that talks to
// systemd over D-Bus. The fake implements only what the adapter uses, with the signatures of
// systemd 252 (src/core/dbus-manager.c, dbus-unit.c, dbus-service.c, dbus-execute.c,
// dbus-cgroup.c), and has knobs to reorder, delay or withhold replies and signals.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DBusError,
  Message,
  MessageType,
  NameFlag,
  RequestNameReply,
  Variant,
  interface as dbusInterface,
  sessionBus,
} from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import { FEATURES_252 } from './platforms.js';

// ---- private bus --------------------------------------------------------------------------------

export interface PrivateBus {
  address: string;
  pid: number;
  /** Kill the daemon (SIGTERM) and wait for it to exit; removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Start `dbus-daemon --nofork` with a minimal config listening on a socket in a temp dir. */
export async function startPrivateBus(): Promise<PrivateBus> {
  const dir = mkdtempSync(join(tmpdir(), 'ah-dbus-'));
  const config = join(dir, 'bus.conf');
  writeFileSync(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${join(dir, 'bus')}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
  );
  const child = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`dbus-daemon did not start: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl).trim());
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dbus-daemon exited with ${code}: ${err}`));
    });
  });
  let stopped = false;
  return {
    address,
    pid: child.pid!,
    async stop() {
      if (!stopped) {
        stopped = true;
        killChild(child);
        await exited;
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function killChild(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

// ---- fake systemd -------------------------------------------------------------------------------

const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER_IFACE = 'org.freedesktop.systemd1.Manager';
const UNIT_IFACE = 'org.freedesktop.systemd1.Unit';
const SERVICE_IFACE = 'org.freedesktop.systemd1.Service';

/** Signatures as systemd 252 declares them. */
const UNIT_PROPS: Record<string, string> = {
  Id: 's',
  Names: 'as',
  LoadState: 's',
  ActiveState: 's',
  SubState: 's',
  FragmentPath: 's',
  DropInPaths: 'as',
  NeedDaemonReload: 'b',
  InvocationID: 'ay',
};
const SERVICE_PROPS: Record<string, string> = {
  Type: 's',
  Result: 's',
  NRestarts: 'u',
  MainPID: 'u',
  ControlPID: 'u',
  ExecMainCode: 'i',
  ExecMainStatus: 'i',
  ProtectSystem: 's',
  NoNewPrivileges: 'b',
  UMask: 'u',
  CapabilityBoundingSet: 't',
  AmbientCapabilities: 't',
  RestrictNamespaces: 't',
  LimitNOFILE: 't',
  SystemCallFilter: '(bas)',
  RestrictAddressFamilies: '(bas)',
  IPAddressAllow: 'a(iayu)',
  IPAddressDeny: 'a(iayu)',
  ReadWritePaths: 'as',
  DeviceAllow: 'a(ss)',
};

export type UnitValues = Record<string, unknown>;

export interface FakeUnit {
  name: string;
  path: string;
  unit: UnitValues;
  service: UnitValues;
}

/** How the fake answers a job request (RestartUnit, StartUnit, StopUnit). */
export interface JobBehaviour {
  /** 'signal-first': JobRemoved is sent before the method reply; 'reply-first': after it;
   * 'never': the job never finishes (send one with emitJobRemoved). */
  order: 'signal-first' | 'reply-first' | 'never';
  result: string;
  /** Delay before the later of the two messages (ms). */
  delayMs?: number;
}

/** An Interface subclass whose D-Bus properties read from `this.values`. */
function propertiesInterface(spec: Record<string, string>) {
  class Props extends dbusInterface.Interface {
    constructor(
      name: string,
      readonly values: UnitValues,
    ) {
      super(name);
    }
  }
  const properties: Record<string, { signature: string; access: 'read' }> = {};
  for (const [name, signature] of Object.entries(spec)) {
    Object.defineProperty(Props.prototype, name, {
      get(this: Props) {
        return this.values[name];
      },
    });
    properties[name] = { signature, access: 'read' };
  }
  Props.configureMembers({ properties });
  return Props;
}
const UnitInterface = propertiesInterface(UNIT_PROPS);
const ServiceInterface = propertiesInterface(SERVICE_PROPS);

function escapeUnitName(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export class FakeSystemd {
  version = '252.38-1~deb12u1';
  /** Manager.Features; undefined: Get fails as for a property systemd does not have. */
  features: string | undefined = FEATURES_252;
  readonly units = new Map<string, FakeUnit>();
  /** Method calls received on the Manager, in order, as "Member(arg, …)". */
  readonly calls: string[] = [];
  /** Manager methods that never answer while listed here. */
  readonly hang = new Set<string>();
  job: JobBehaviour = { order: 'reply-first', result: 'done' };
  /** Per-unit job behaviour, overriding `job`. */
  readonly jobFor = new Map<string, JobBehaviour>();
  /** Unique names of the connections that called Subscribe. */
  readonly subscribers: string[] = [];
  /** Alias name → unit name: LoadUnit(alias) answers with the unit's object (see addAlias). */
  readonly aliases = new Map<string, string>();
  /** Jobs handed out, by path. */
  readonly jobs = new Map<string, { id: number; unit: string }>();
  private nextJob = 1;
  private readonly manager: InstanceType<typeof ManagerInterface>;

  private constructor(readonly bus: MessageBus) {
    this.manager = new ManagerInterface(this);
    bus.export(MANAGER_PATH, this.manager);
    // Record who subscribes (method handlers only see the body).
    bus.on('message', (msg: Message) => {
      if (msg.type === MessageType.METHOD_CALL && msg.interface === MANAGER_IFACE && msg.member === 'Subscribe') {
        this.subscribers.push(msg.sender);
      }
    });
    // Properties.GetAll with interface "" returns every interface, as sd-bus does; dbus-next's
    // own handler would return nothing.
    bus.addMethodHandler((msg: Message) => {
      if (msg.interface !== 'org.freedesktop.DBus.Properties' || msg.member !== 'GetAll' || msg.body[0] !== '') {
        return false;
      }
      const unit = [...this.units.values()].find((u) => u.path === msg.path);
      if (!unit) return false;
      const all: Record<string, Variant> = {};
      for (const [k, sig] of Object.entries(UNIT_PROPS)) all[k] = new Variant(sig, unit.unit[k]);
      for (const [k, sig] of Object.entries(SERVICE_PROPS)) all[k] = new Variant(sig, unit.service[k]);
      bus.send(Message.newMethodReturn(msg, 'a{sv}', [all]));
      return true;
    });
  }

  /** Connect to `address`, own org.freedesktop.systemd1 and export the Manager. */
  static async start(address: string): Promise<FakeSystemd> {
    const bus = sessionBus({ busAddress: address });
    bus.on('error', () => {
      // the daemon may be killed under us in tests
    });
    const fake = new FakeSystemd(bus);
    const reply = await bus.requestName('org.freedesktop.systemd1', NameFlag.DO_NOT_QUEUE);
    if (reply !== RequestNameReply.PRIMARY_OWNER) throw new Error(`could not own org.freedesktop.systemd1: ${reply}`);
    return fake;
  }

  /** Add (or replace) a service unit with sensible defaults; returns it for further tweaks. */
  addService(name: string, service: UnitValues = {}, unit: UnitValues = {}): FakeUnit {
    const path = `${MANAGER_PATH}/unit/${escapeUnitName(name)}`;
    const u: FakeUnit = {
      name,
      path,
      unit: {
        Id: name,
        Names: [name],
        LoadState: 'loaded',
        ActiveState: 'active',
        SubState: 'running',
        FragmentPath: `/lib/systemd/system/${name}`,
        DropInPaths: [],
        NeedDaemonReload: false,
        InvocationID: randomBytes(16),
        ...unit,
      },
      service: {
        Type: 'simple',
        Result: 'success',
        NRestarts: 0,
        MainPID: 1234,
        ControlPID: 0,
        ExecMainCode: 0,
        ExecMainStatus: 0,
        ProtectSystem: 'no',
        NoNewPrivileges: false,
        UMask: 0o022,
        CapabilityBoundingSet: 2n ** 64n - 1n,
        AmbientCapabilities: 0n,
        RestrictNamespaces: 2n ** 64n - 1n,
        LimitNOFILE: 524288n,
        SystemCallFilter: [false, []],
        RestrictAddressFamilies: [false, []],
        IPAddressAllow: [],
        IPAddressDeny: [],
        ReadWritePaths: [],
        DeviceAllow: [],
        ...service,
      },
    };
    const old = this.units.get(name);
    if (old) {
      // The exported interfaces read from these objects: refill them in place.
      for (const k of Object.keys(old.unit)) delete old.unit[k];
      for (const k of Object.keys(old.service)) delete old.service[k];
      Object.assign(old.unit, u.unit);
      Object.assign(old.service, u.service);
      return old;
    }
    this.bus.export(path, new UnitInterface(UNIT_IFACE, u.unit));
    this.bus.export(path, new ServiceInterface(SERVICE_IFACE, u.service));
    this.units.set(name, u);
    return u;
  }

  /** Make `alias` another name of `unit`, as an Alias= symlink does: LoadUnit(alias) returns the
   * unit's object path, and its Names list the alias. */
  addAlias(alias: string, unit: string): void {
    const u = this.units.get(unit);
    if (!u) throw new Error(`no unit ${unit}`);
    this.aliases.set(alias, unit);
    u.unit.Names = [...new Set([...(u.unit.Names as string[]), alias])];
  }

  /** Send JobRemoved(id, job, unit, result) as systemd would. */
  emitJobRemoved(jobPath: string, result: string): void {
    const job = this.jobs.get(jobPath);
    this.manager.JobRemoved(job?.id ?? 0, jobPath, job?.unit ?? '', result);
  }

  disconnect(): void {
    this.bus.disconnect();
  }

  // -- called by the Manager interface --

  record(member: string, args: unknown[]): void {
    this.calls.push(`${member}(${args.map((a) => String(a)).join(', ')})`);
  }

  /** A promise that never settles when `member` is in `hang`, else undefined. */
  hung(member: string): Promise<never> | undefined {
    return this.hang.has(member) ? new Promise<never>(() => {}) : undefined;
  }

  loadUnit(name: string): string {
    if (!/^[^/]+\.(service|socket|target|mount|timer|path|slice|scope|swap|device|automount)$/.test(name)) {
      throw new DBusError('org.freedesktop.DBus.Error.InvalidArgs', `Unit name ${name} is not valid.`);
    }
    const alias = this.aliases.get(name);
    if (alias) return this.units.get(alias)!.path;
    return (this.units.get(name) ?? this.addService(name, {}, { LoadState: 'not-found', ActiveState: 'inactive', SubState: 'dead', FragmentPath: '', InvocationID: Buffer.alloc(0) })).path;
  }

  enqueue(member: string, name: string): string | Promise<string> {
    const u = this.units.get(name);
    if (!u || u.unit.LoadState === 'not-found') {
      throw new DBusError('org.freedesktop.systemd1.NoSuchUnit', `Unit ${name} not found.`);
    }
    const id = this.nextJob++;
    const path = `${MANAGER_PATH}/job/${id}`;
    this.jobs.set(path, { id, unit: name });
    if (member !== 'StopUnit') {
      u.unit.InvocationID = randomBytes(16);
      u.unit.ActiveState = 'active';
    } else {
      u.unit.ActiveState = 'inactive';
    }
    const b = this.jobFor.get(name) ?? this.job;
    const later = (fn: () => void): void => {
      setTimeout(fn, b.delayMs ?? 0);
    };
    if (b.order === 'signal-first') {
      this.emitJobRemoved(path, b.result);
      if (!b.delayMs) return path;
      return new Promise<string>((resolve) => later(() => resolve(path)));
    }
    if (b.order === 'reply-first') later(() => this.emitJobRemoved(path, b.result));
    return path;
  }
}

class ManagerInterface extends dbusInterface.Interface {
  constructor(private readonly fake: FakeSystemd) {
    super(MANAGER_IFACE);
  }
  get Version(): string {
    return this.fake.version;
  }
  get Features(): string {
    if (this.fake.features === undefined) throw new DBusError('org.freedesktop.DBus.Error.UnknownProperty', 'Unknown property Features');
    return this.fake.features;
  }
  Subscribe(): Promise<never> | void {
    this.fake.record('Subscribe', []);
    return this.fake.hung('Subscribe');
  }
  Reload(): Promise<never> | void {
    this.fake.record('Reload', []);
    return this.fake.hung('Reload');
  }
  ResetFailedUnit(name: string): Promise<never> | void {
    this.fake.record('ResetFailedUnit', [name]);
    const h = this.fake.hung('ResetFailedUnit');
    if (h) return h;
    if (!this.fake.units.has(name)) {
      throw new DBusError('org.freedesktop.systemd1.NoSuchUnit', `Unit ${name} not loaded.`);
    }
  }
  LoadUnit(name: string): Promise<never> | string {
    this.fake.record('LoadUnit', [name]);
    return this.fake.hung('LoadUnit') ?? this.fake.loadUnit(name);
  }
  RestartUnit(name: string, mode: string): Promise<string> | string {
    this.fake.record('RestartUnit', [name, mode]);
    return this.fake.hung('RestartUnit') ?? this.fake.enqueue('RestartUnit', name);
  }
  StartUnit(name: string, mode: string): Promise<string> | string {
    this.fake.record('StartUnit', [name, mode]);
    return this.fake.hung('StartUnit') ?? this.fake.enqueue('StartUnit', name);
  }
  StopUnit(name: string, mode: string): Promise<string> | string {
    this.fake.record('StopUnit', [name, mode]);
    return this.fake.hung('StopUnit') ?? this.fake.enqueue('StopUnit', name);
  }
  JobRemoved(id: number, job: string, unit: string, result: string): unknown {
    return [id, job, unit, result];
  }
}
ManagerInterface.configureMembers({
  properties: { Version: { signature: 's', access: 'read' }, Features: { signature: 's', access: 'read' } },
  methods: {
    Subscribe: {},
    Reload: {},
    ResetFailedUnit: { inSignature: 's' },
    LoadUnit: { inSignature: 's', outSignature: 'o' },
    RestartUnit: { inSignature: 'ss', outSignature: 'o' },
    StartUnit: { inSignature: 'ss', outSignature: 'o' },
    StopUnit: { inSignature: 'ss', outSignature: 'o' },
  },
  signals: { JobRemoved: { signature: 'uoss' } },
});

/** A second, unrelated connection: something that is not systemd but sends signals anyway. */
export async function connectStranger(address: string): Promise<MessageBus> {
  const bus = sessionBus({ busAddress: address });
  bus.on('error', () => {});
  await new Promise<void>((resolve) => bus.once('connect', () => resolve()));
  return bus;
}

/** Send a JobRemoved signal from `bus` straight to `destination` (a unique name). */
export function sendJobRemoved(bus: MessageBus, destination: string, jobPath: string, result: string): void {
  bus.send(
    new Message({
      type: MessageType.SIGNAL,
      path: MANAGER_PATH,
      interface: MANAGER_IFACE,
      member: 'JobRemoved',
      signature: 'uoss',
      body: [0, jobPath, '', result],
      destination,
    }),
  );
}

// ---- both together ------------------------------------------------------------------------------

export interface FakeSystemdBus {
  bus: PrivateBus;
  fake: FakeSystemd;
  /** Disconnect the fake and stop the bus. */
  stop(): Promise<void>;
}

/** A private bus with a fake systemd on it (the bus is stopped again if the fake fails to start). */
export async function startFakeSystemd(): Promise<FakeSystemdBus> {
  const bus = await startPrivateBus();
  let fake: FakeSystemd;
  try {
    fake = await FakeSystemd.start(bus.address);
  } catch (e) {
    await bus.stop();
    throw e;
  }
  return {
    bus,
    fake,
    async stop() {
      fake.disconnect();
      await bus.stop();
    },
  };
}
