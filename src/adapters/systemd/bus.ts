// The connection: method calls with a timeout, systemd's ownership of its bus name, and calls
// retried across a daemon-reexec.
//
// Built on dbus-next's low-level API (Message + bus.call) rather than its proxy objects: proxies
// introspect every unit object (one extra round trip and an XML parse each) and add a match rule
// per signal listener that is never reference-counted correctly (reference §6).
//
// systemd re-executing itself keeps our bus connection but replaces systemd's: the name gets a new
// owner (NameOwnerChanged) and calls in flight fail with NoReply. Calls to systemd that failed so
// are sent again once it is back, within their own timeout.
import { Message, MessageType } from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import { PEER_GONE, SystemdError, errorText, mapError } from './errors.js';
import { DBUS, SYSTEMD } from './names.js';

/** How long a call that failed with NoReply waits for systemd's NameOwnerChanged to show up. */
const OWNER_GRACE_MS = 1000;
/** Retries of one call across systemd's re-executions. */
const MAX_PEER_RETRIES = 3;

export interface BusHooks {
  /** A signal from systemd's current owner (anyone may send us a unicast signal; only its count). */
  signal(msg: Message): void;
  /** org.freedesktop.systemd1 got a new owner after we had subscribed: systemd re-executed. */
  managerRestarted(): void;
  /** The connection failed: pending calls have been failed; fail whatever else waits. */
  failing(err: SystemdError): void;
  /** The connection is gone (called once, last). */
  closed(err: SystemdError): void;
}

interface Pending {
  fail(err: SystemdError): void;
}

export class SystemdBus {
  private readonly pending = new Set<Pending>();
  /** Unique bus name of systemd; signals from anyone else are ignored. */
  private owner: string | null = null;
  /** Bumped whenever org.freedesktop.systemd1 gets a (new) owner. */
  private ownerEpoch = 0;
  /** systemd left the bus (NameOwnerChanged to nobody) and has not come back yet. */
  private ownerLost = false;
  private readonly ownerWaiters = new Set<() => void>();
  private everSubscribed = false;
  private failure: SystemdError | null = null;

  constructor(
    private readonly bus: MessageBus,
    readonly callTimeoutMs: number,
    private readonly hooks: BusHooks,
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

  /** Why the connection is gone, or null while it is up. */
  get failed(): SystemdError | null {
    return this.failure;
  }

  /** One method call with a timeout. Calls to systemd that it dropped by going away (daemon-reexec)
   * are sent again once it is back, within the same timeout. Errors come back as SystemdError. */
  async call(
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

  /** Fail every pending call and waiter, disconnect, report closed. Idempotent. */
  fail(err: SystemdError): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of [...this.pending]) p.fail(err);
    this.hooks.failing(err);
    for (const wake of [...this.ownerWaiters]) wake();
    try {
      this.bus.disconnect();
    } catch {
      // already gone
    }
    this.hooks.closed(err);
  }

  private onMessage(msg: Message): void {
    if (msg.type !== MessageType.SIGNAL) return;
    const body: unknown[] = Array.isArray(msg.body) ? msg.body : [];
    if (msg.interface === DBUS && msg.member === 'NameOwnerChanged') {
      if (msg.sender !== DBUS || body[0] !== SYSTEMD) return;
      this.ownerChanged(typeof body[2] === 'string' && body[2] !== '' ? body[2] : null);
      return;
    }
    if (this.owner === null || msg.sender !== this.owner) return;
    this.hooks.signal(msg);
  }

  /** NameOwnerChanged for org.freedesktop.systemd1. A new owner after a known one is systemd
   * re-executed (or restarted). */
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
    if (next !== prev && this.everSubscribed) this.hooks.managerRestarted();
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
          // The reply's sender is systemd's unique name.
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
}
