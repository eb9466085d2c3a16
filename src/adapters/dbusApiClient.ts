// The CLI's side of org.autoharden1: is the daemon there, call it, hear its signals. Errors come
// back as AutohardenError with the daemon's code, so the CLI maps them to exit codes as if it had
// done the work itself.
import { DBusError, Message, MessageType, sessionBus, systemBus } from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import { AutohardenError } from '../core/errors.js';
import { BUS_NAME, INTERFACE, OBJECT_PATH, codeOfErrorName } from './dbusNames.js';

const DBUS = 'org.freedesktop.DBus';
const DBUS_PATH = '/org/freedesktop/DBus';

export interface DaemonEvents {
  progress?(unit: string, state: string, message: string): void;
  trialFinished?(unit: string, trial: number, outcome: string, settings: string, reason: string): void;
  /** org.autoharden1 lost its owner (the daemon stopped or died), or got a new one. */
  ownerChanged?(running: boolean): void;
}

export class ApiClient {
  private events: DaemonEvents = {};
  private failure: Error | null = null;
  /** The daemon's unique bus name: Progress/TrialFinished from any other sender are forgeries
   * (any local user may send a signal to our unique name; match rules do not filter those). */
  private owner: string | null = null;
  /** Bumped by every NameOwnerChanged: a GetNameOwner reply older than one is stale. */
  private ownerEpoch = 0;

  private constructor(private readonly bus: MessageBus) {
    bus.on('error', (err: unknown) => {
      this.failure = err instanceof Error ? err : new Error(String(err));
    });
    bus.on('message', (msg: Message) => this.onMessage(msg));
  }

  /** Connects to the system bus (or `address`); undefined when there is no bus to connect to. */
  static async connect(o: { address?: string; timeoutMs?: number } = {}): Promise<ApiClient | undefined> {
    let bus: MessageBus;
    try {
      bus = o.address ? sessionBus({ busAddress: o.address }) : systemBus();
    } catch {
      return undefined;
    }
    const client = new ApiClient(bus);
    try {
      await withTimeout(new Promise<void>((resolve, reject) => {
        bus.once('connect', () => resolve());
        bus.once('error', (e: unknown) => reject(e));
      }), o.timeoutMs ?? 5000, 'connecting to the system bus');
      return client;
    } catch {
      client.close();
      return undefined;
    }
  }

  /** Whether a daemon owns org.autoharden1 now. */
  async daemonRunning(): Promise<boolean> {
    const [has] = await this.call(DBUS, DBUS_PATH, DBUS, 'NameHasOwner', 's', [BUS_NAME], 5000);
    return has === true;
  }

  async property(name: string): Promise<string> {
    const [v] = await this.call(BUS_NAME, OBJECT_PATH, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [INTERFACE, name], 10_000);
    const value = v && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v;
    return String(value);
  }

  /** A method of org.autoharden1.Manager; its single string result. */
  async method(member: string, signature: string, body: unknown[], timeoutMs = 30_000): Promise<string> {
    const [out] = await this.call(BUS_NAME, OBJECT_PATH, INTERFACE, member, signature, body, timeoutMs);
    return String(out ?? '');
  }

  /** Hear the daemon's signals about `unit` (every unit when omitted) and its comings and goings.
   * Subscribe before calling a method whose effects you want to hear about. */
  async subscribe(events: DaemonEvents, unit?: string): Promise<void> {
    this.events = events;
    const arg0 = unit ? `,arg0='${unit.replace(/'/g, '')}'` : '';
    // Owner changes first, then the owner: no change can fall between the two.
    await this.call(DBUS, DBUS_PATH, DBUS, 'AddMatch', 's', [`type='signal',sender='${DBUS}',member='NameOwnerChanged',arg0='${BUS_NAME}'`], 5000);
    await this.resolveOwner();
    for (const member of ['Progress', 'TrialFinished']) {
      await this.call(DBUS, DBUS_PATH, DBUS, 'AddMatch', 's', [`type='signal',sender='${BUS_NAME}',path='${OBJECT_PATH}',interface='${INTERFACE}',member='${member}'${arg0}`], 5000);
    }
  }

  private async resolveOwner(): Promise<void> {
    const epoch = this.ownerEpoch;
    let owner: string | null = null;
    try {
      const msg = new Message({ destination: DBUS, path: DBUS_PATH, interface: DBUS, member: 'GetNameOwner', signature: 's', body: [BUS_NAME] });
      const reply = await withTimeout(this.bus.call(msg), 5000, 'GetNameOwner got no answer within 5 s');
      const name: unknown = reply?.body?.[0];
      owner = typeof name === 'string' && name.startsWith(':') ? name : null;
    } catch (e) {
      // No daemon now: NameOwnerChanged will tell when one comes.
      if ((e as DBusError).type !== 'org.freedesktop.DBus.Error.NameHasNoOwner') throw mapError(e);
    }
    if (this.ownerEpoch === epoch) this.owner = owner;
  }

  close(): void {
    try {
      this.bus.disconnect();
    } catch {
      /* gone */
    }
  }

  private onMessage(msg: Message): void {
    if (msg.type !== MessageType.SIGNAL) return;
    const b = (msg.body ?? []) as unknown[];
    // Only the bus itself sends as org.freedesktop.DBus: no client can own that name.
    if (msg.interface === DBUS && msg.member === 'NameOwnerChanged' && msg.sender === DBUS && b[0] === BUS_NAME) {
      this.ownerEpoch++;
      this.owner = typeof b[2] === 'string' && b[2].startsWith(':') ? b[2] : null;
      this.events.ownerChanged?.(this.owner !== null);
      return;
    }
    if (msg.interface !== INTERFACE || msg.path !== OBJECT_PATH) return;
    if (this.owner === null || msg.sender !== this.owner) return;
    if (msg.member === 'Progress') this.events.progress?.(String(b[0]), String(b[1]), String(b[2]));
    else if (msg.member === 'TrialFinished') this.events.trialFinished?.(String(b[0]), Number(b[1]), String(b[2]), String(b[3]), String(b[4]));
  }

  private async call(destination: string, path: string, iface: string, member: string, signature: string, body: unknown[], timeoutMs: number): Promise<unknown[]> {
    if (this.failure) throw new AutohardenError('Failed', `D-Bus connection failed: ${this.failure.message}`);
    const msg = new Message({ destination, path, interface: iface, member, signature, body });
    try {
      const reply = await withTimeout(this.bus.call(msg), timeoutMs, `${member} got no answer within ${Math.round(timeoutMs / 1000)} s`);
      return Array.isArray(reply?.body) ? reply.body : [];
    } catch (e) {
      throw mapError(e);
    }
  }
}

function mapError(e: unknown): Error {
  if (e instanceof AutohardenError) return e;
  if (e instanceof DBusError || (e instanceof Error && e.name === 'DBusError')) {
    const { type, text } = e as DBusError;
    const code = codeOfErrorName(type);
    if (code) return new AutohardenError(code, text || type);
    if (type === 'org.freedesktop.DBus.Error.AccessDenied') {
      return new AutohardenError('AccessDenied', 'access denied: only root may talk to the autoharden daemon');
    }
    if (type === 'org.freedesktop.DBus.Error.ServiceUnknown' || type === 'org.freedesktop.DBus.Error.NoReply' || type === 'org.freedesktop.DBus.Error.NameHasNoOwner') {
      return new AutohardenError('Failed', `the autoharden daemon went away: ${text || type}`);
    }
    return new AutohardenError('Failed', `${text || type}`);
  }
  return new AutohardenError('Failed', e instanceof Error ? e.message : String(e));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new AutohardenError('Failed', what)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
