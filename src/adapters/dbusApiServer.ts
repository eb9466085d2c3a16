// Exports org.autoharden1.Manager on the system bus with dbus-next's service API
// (configureMembers, no decorators). Every method runs a handler of the daemon; whatever it
// throws becomes org.autoharden1.Error.<Code> with a one-line message (never a stack trace).
// The bus policy (systemd/org.autoharden1.conf) lets only root call us or hear our signals; the
// server checks the caller's uid as well, so a looser policy cannot open the API by accident.
import { readFileSync } from 'node:fs';
import { DBusError, Message, NameFlag, RequestNameReply, interface as dbusInterface, sessionBus, systemBus } from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import type { ManagerHandlers } from '../app/registry.js';
import { AutohardenError, errorCodeOf } from '../core/errors.js';
import { BUS_NAME, INTERFACE, METHODS, OBJECT_PATH, SIGNALS, errorName, introspectionXml } from './dbusApi.js';
import { SystemdError } from './systemd.js';

export type { ManagerHandlers } from '../app/registry.js';

const MAX_CACHED_CALLERS = 64;

export interface ServerOptions {
  handlers: ManagerHandlers;
  version: string;
  stateDirectory: string;
  /** Bus address; default the system bus. */
  address?: string;
  /** Root only (uid 0); tests on a private bus may allow their own uid. */
  allowedUids?: readonly number[];
  /** The connection went away (dbus-daemon restarted): the daemon reconnects. */
  onClosed?: (err: Error) => void;
}

/** Any error → DBusError named by its code (core/errors.ts), with the first line of its message. */
export function toDBusError(e: unknown): DBusError {
  if (e instanceof DBusError) return e;
  const line = (s: string) => s.split('\n')[0]!.slice(0, 500);
  if (e instanceof SystemdError) {
    const code = e.code === 'NoSuchUnit' ? 'UnitUnknown' : e.code === 'AccessDenied' ? 'AccessDenied' : 'Failed';
    return new DBusError(errorName(code), line(e.message));
  }
  const { code, message } = errorCodeOf(e);
  return new DBusError(errorName(code), line(message));
}

class ManagerInterface extends dbusInterface.Interface {
  /** Unique name of the caller of the method being dispatched (set just before dispatch). */
  caller = '';

  constructor(private readonly server: ApiServer) {
    super(INTERFACE);
  }

  get Version(): string {
    return this.server.o.version;
  }
  get StateDirectory(): string {
    return this.server.o.stateDirectory;
  }

  /** Runs a method's handler for its caller. */
  call(handler: string, args: unknown[]): Promise<string> {
    const fn = (this.server.o.handlers as unknown as Record<string, (...a: unknown[]) => Promise<string>>)[handler];
    return this.server.guarded(this.caller, () => fn!.apply(this.server.o.handlers, args));
  }
  Progress(unit: string, state: string, message: string): unknown {
    return [unit, state, message];
  }
  TrialFinished(unit: string, trial: number, outcome: string, settings: string, reason: string): unknown {
    return [unit, trial, outcome, settings, reason];
  }
  Alert(unit: string, message: string): unknown {
    return [unit, message];
  }
}

// One method per remote use case (METHODS), each running its handler; dbus-next takes them from
// the prototype when the members are configured.
for (const m of METHODS) {
  Object.defineProperty(ManagerInterface.prototype, m.name, {
    value: function (this: ManagerInterface, ...args: unknown[]) {
      return this.call(m.handler, args);
    },
  });
}
const sig = (args: readonly { type: string }[]) => args.map((a) => a.type).join('');
ManagerInterface.configureMembers({
  properties: { Version: { signature: 's', access: 'read' }, StateDirectory: { signature: 's', access: 'read' } },
  methods: Object.fromEntries(METHODS.map((m) => [m.name, { inSignature: sig(m.in), outSignature: sig(m.out) }])),
  signals: Object.fromEntries(SIGNALS.map((s) => [s.name, { signature: sig(s.args) }])),
});

export class ApiServer {
  private readonly iface: ManagerInterface;
  private readonly uids = new Map<string, number>();
  private closed = false;

  private constructor(
    private readonly bus: MessageBus,
    readonly o: ServerOptions,
  ) {
    this.iface = new ManagerInterface(this);
    bus.on('error', (err: unknown) => this.lost(err instanceof Error ? err : new Error(String(err))));
    const stream = (bus as unknown as { _connection?: { stream?: NodeJS.EventEmitter } })._connection?.stream;
    stream?.on?.('close', () => this.lost(new Error('D-Bus connection closed')));
    // Runs before dbus-next dispatches: note the caller, and answer Introspect with documented XML.
    bus.addMethodHandler((msg: Message) => {
      if (msg.path !== OBJECT_PATH) return false;
      if (msg.interface === 'org.freedesktop.DBus.Introspectable' && msg.member === 'Introspect') {
        bus.send(Message.newMethodReturn(msg, 's', [introspectionXml({ Version: o.version, StateDirectory: o.stateDirectory })]));
        return true;
      }
      this.iface.caller = msg.sender ?? '';
      return false;
    });
  }

  /** Connect, export /org/autoharden1 and own org.autoharden1 (refused if it has an owner). */
  static async start(o: ServerOptions): Promise<ApiServer> {
    const bus = o.address ? sessionBus({ busAddress: o.address }) : systemBus();
    const server = new ApiServer(bus, o);
    try {
      bus.export(OBJECT_PATH, server.iface);
      const reply = await bus.requestName(BUS_NAME, NameFlag.DO_NOT_QUEUE);
      if (reply !== RequestNameReply.PRIMARY_OWNER && reply !== RequestNameReply.ALREADY_OWNER) {
        throw new AutohardenError('Failed', `${BUS_NAME} is owned by another process: is another autoharden daemon running?`);
      }
    } catch (e) {
      server.close();
      if (e instanceof DBusError) {
        const code = e.type === 'org.freedesktop.DBus.Error.AccessDenied' ? 'AccessDenied' : 'Failed';
        throw new AutohardenError(code, `cannot own ${BUS_NAME} on the bus: ${e.text || e.message} (is systemd/org.autoharden1.conf installed?)`);
      }
      throw e;
    }
    return server;
  }

  progress(unit: string, state: string, message: string): void {
    if (!this.closed) this.emit(() => this.iface.Progress(unit, state, message.split('\n')[0]!));
  }

  trialFinished(unit: string, trial: number, outcome: string, settings: string, reason: string): void {
    if (!this.closed) this.emit(() => this.iface.TrialFinished(unit, trial, outcome, settings, reason.split('\n')[0]!));
  }

  alert(unit: string, message: string): void {
    if (!this.closed) this.emit(() => this.iface.Alert(unit, message.split('\n')[0]!));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.bus.disconnect();
    } catch {
      /* gone */
    }
  }

  /** Checks the caller is allowed, runs fn, and maps whatever it throws. */
  async guarded(caller: string, fn: () => Promise<string>): Promise<string> {
    try {
      await this.authorize(caller);
      return await fn();
    } catch (e) {
      throw toDBusError(e);
    }
  }

  private async authorize(caller: string): Promise<void> {
    let uid = this.uids.get(caller);
    if (uid === undefined) {
      const [u] = await this.busCall('GetConnectionUnixUser', [caller]);
      uid = Number(u);
      // Unique names are never reused on a bus, so a cached uid never goes stale; keep a few.
      if (this.uids.size >= MAX_CACHED_CALLERS) this.uids.delete(this.uids.keys().next().value!);
      this.uids.set(caller, uid);
    }
    const allowed = this.o.allowedUids ?? [0];
    if (!allowed.includes(uid)) throw new AutohardenError('AccessDenied', `access denied: only root may use ${BUS_NAME} (caller uid ${uid})`);
  }

  private async busCall(member: string, body: string[]): Promise<unknown[]> {
    const reply = await this.bus.call(new Message({
      destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus',
      member, signature: 's'.repeat(body.length), body,
    }));
    return reply?.body ?? [];
  }

  private emit(fn: () => void): void {
    try {
      fn();
    } catch {
      // a closed connection: the daemon reconnects and carries on
    }
  }

  private lost(err: Error): void {
    if (this.closed) return;
    this.close();
    this.o.onClosed?.(err);
  }
}

/** autoharden's version, from its package.json. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
