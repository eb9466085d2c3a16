// The daemon's D-Bus edges on a private bus: its own API (server and client), and the systemd
// adapter across systemd re-executing itself (a fake systemd leaves the bus and another takes
// its name, as daemon-reexec does).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Message, MessageType, Variant } from 'dbus-next';
import { ApiClient } from '../../src/adapters/dbusApiClient.js';
import { ApiServer, type ManagerHandlers } from '../../src/adapters/dbusApiServer.js';
import { Systemd, type SystemdEvents } from '../../src/adapters/systemd.js';
import { AutohardenError } from '../../src/core/errors.js';
import { FakeSystemd, startPrivateBus, type PrivateBus } from '../fakes/systemd-bus.js';
import { rejection as rejectionOf } from './expect-errors.js';

const rejection = (p: Promise<unknown>) => rejectionOf(p, AutohardenError);

describe('org.autoharden1 server and client', () => {
  let bus: PrivateBus;
  let server: ApiServer;
  let client: ApiClient;
  const calls: string[] = [];
  const handlers: ManagerHandlers = {
    enroll: async (spec) => {
      calls.push(`enroll ${spec}`);
      if (spec === 'bad') throw new AutohardenError('Usage', 'bad enrollment spec: not JSON');
      return 'nginx.service';
    },
    status: async (unit) => {
      if (unit === 'boom') throw new Error('something broke\n    at a stack trace line');
      return JSON.stringify([{ unit: unit || 'all' }]);
    },
    journal: async () => {
      throw new AutohardenError('UnitUnknown', 'autoharden has no journal for x.service');
    },
    rollback: async (unit, option, all, settleMs) => JSON.stringify({ unit, option, all, settleMs }),
    unenroll: async (unit, mode) => JSON.stringify({ unit, mode }),
    export: async (unit, format) => `${unit} as ${format}\n`,
    guardPause: async (unit, action) => JSON.stringify({ unit, action }),
  };

  beforeAll(async () => {
    bus = await startPrivateBus();
    server = await ApiServer.start({ handlers, version: '9.9.9', stateDirectory: '/var/lib/autoharden', address: bus.address, allowedUids: [process.getuid!()] });
    client = (await ApiClient.connect({ address: bus.address }))!;
  });

  afterAll(async () => {
    client?.close();
    server?.close();
    await bus?.stop();
  });

  it('is found by name, and tells its state directory', async () => {
    expect(await client.daemonRunning()).toBe(true);
    expect(await client.property('StateDirectory')).toBe('/var/lib/autoharden');
    expect(await client.property('Version')).toBe('9.9.9');
  });

  it('runs the handlers with typed arguments', async () => {
    expect(await client.method('Enroll', 's', ['{"unit":"nginx"}'])).toBe('nginx.service');
    expect(JSON.parse(await client.method('Rollback', 'ssbu', ['x.service', 'ProtectSystem', false, 900]))).toEqual({ unit: 'x.service', option: 'ProtectSystem', all: false, settleMs: 900 });
    expect(await client.method('Export', 'ss', ['x.service', 'json'])).toBe('x.service as json\n');
  });

  it('maps errors to org.autoharden1.Error.<Code> with one line, never a stack trace', async () => {
    const usage = await rejection(client.method('Enroll', 's', ['bad']));
    expect(usage.code).toBe('Usage');
    expect(usage.message).toBe('bad enrollment spec: not JSON');
    expect((await rejection(client.method('Journal', 's', ['x.service']))).code).toBe('UnitUnknown');
    const failed = await rejection(client.method('Status', 's', ['boom']));
    expect(failed.code).toBe('Failed');
    expect(failed.message).toBe('something broke');
  });

  it('answers Introspect with the documented interface', async () => {
    const reply = await (client as unknown as { call(d: string, p: string, i: string, m: string, s: string, b: unknown[], t: number): Promise<unknown[]> })
      .call('org.autoharden1', '/org/autoharden1', 'org.freedesktop.DBus.Introspectable', 'Introspect', '', [], 5000);
    const xml = String(reply[0]);
    expect(xml).toContain('<interface name="org.autoharden1.Manager">');
    expect(xml).toContain('<arg name="mode" type="s" direction="in"/>');
  });

  it('sends Progress and TrialFinished to subscribers of the unit only', async () => {
    const other = (await ApiClient.connect({ address: bus.address }))!;
    const got: string[] = [];
    const gotOther: string[] = [];
    await client.subscribe({ progress: (u, s, m) => got.push(`${u} ${s} ${m}`), trialFinished: (u, t, o) => got.push(`${u} #${t} ${o}`) }, 'a.service');
    await other.subscribe({ progress: (u) => gotOther.push(u) }, 'b.service');
    server.progress('a.service', 'tuning', 'trial #1: PrivateTmp=yes\nsecond line');
    server.progress('b.service', 'queued', 'enrolled');
    server.trialFinished('a.service', 1, 'accepted', 'PrivateTmp=yes', 'ok');
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual(['a.service tuning trial #1: PrivateTmp=yes', 'a.service #1 accepted']);
    expect(gotOther).toEqual(['b.service']);
    other.close();
  });

  it('refuses callers whose uid is not allowed, whatever the bus policy lets through', async () => {
    const strict = await ApiServer.start({ handlers, version: '1', stateDirectory: '/x', address: bus.address, allowedUids: [4242] }).catch((e: Error) => e);
    // The name is taken by the first server: a second daemon is refused.
    expect(strict).toBeInstanceOf(AutohardenError);
    expect((strict as Error).message).toMatch(/owned by another process/);
    server.close();
    server = await ApiServer.start({ handlers, version: '1', stateDirectory: '/x', address: bus.address, allowedUids: [4242] });
    const denied = await rejection(client.method('Status', 's', ['']));
    expect(denied.code).toBe('AccessDenied');
    expect(denied.message).toMatch(/only root/);
  });
});

describe('Systemd adapter across a re-executing systemd', () => {
  let bus: PrivateBus;
  let fake: FakeSystemd;
  let sd: Systemd;
  let restarted: number;
  let changes: Array<[string, string, Record<string, unknown>]>;

  beforeEach(async () => {
    bus = await startPrivateBus();
    fake = await FakeSystemd.start(bus.address);
    fake.addService('web.service');
    sd = await Systemd.connect({ address: bus.address, callTimeoutMs: 5000 });
    restarted = 0;
    changes = [];
    const events: SystemdEvents = { managerRestarted: () => restarted++, unitChanged: (u, i, c) => changes.push([u, i, c]) };
    sd.setEvents(events);
  });

  afterEach(async () => {
    sd?.close();
    fake?.disconnect();
    await bus?.stop();
  });

  /** systemd re-executing: the old instance leaves the bus, a new one takes the name. */
  async function reexec(): Promise<FakeSystemd> {
    const units = [...fake.units.values()];
    fake.disconnect();
    await new Promise((r) => setTimeout(r, 100));
    const next = await FakeSystemd.start(bus.address);
    for (const u of units) next.addService(u.name, { ...u.service }, { ...u.unit });
    return next;
  }

  it('settles a job whose JobRemoved was lost while systemd was away, from the unit state', async () => {
    fake.job = { order: 'never', result: 'done' };
    const job = sd.restart('web.service', 10_000);
    await new Promise((r) => setTimeout(r, 100));
    fake = await reexec();
    const t0 = Date.now();
    expect(await job).toBe('done');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(fake.subscribers.length).toBe(1); // re-subscribed with the new instance
    await new Promise((r) => setTimeout(r, 50));
    expect(restarted).toBe(1);
  });

  it('reports a job that is gone while the unit failed as failed', async () => {
    fake.job = { order: 'never', result: 'done' };
    const job = sd.restart('web.service', 10_000);
    await new Promise((r) => setTimeout(r, 100));
    fake.units.get('web.service')!.unit.ActiveState = 'failed';
    fake = await reexec();
    expect(await job).toBe('failed');
  });

  it('sends a call that systemd dropped by leaving again to the new instance', async () => {
    fake.hang.add('Reload');
    const reload = sd.reload(10_000);
    await new Promise((r) => setTimeout(r, 100));
    fake = await reexec();
    await reload;
    expect(fake.calls).toContain('Reload()');
    // and calls made while it is away wait for it
    const units = [...fake.units.values()];
    fake.disconnect();
    await new Promise((r) => setTimeout(r, 100)); // systemd has left the bus
    const info = sd.unitInfo('web.service');
    await new Promise((r) => setTimeout(r, 200));
    fake = await FakeSystemd.start(bus.address);
    for (const u of units) fake.addService(u.name, { ...u.service }, { ...u.unit });
    expect((await info).activeState).toBe('active');
  });

  it('reports PropertiesChanged and UnitNew of watched units only, converted', async () => {
    await sd.watchUnit('web.service');
    fake.addService('other.service');
    const path = fake.units.get('web.service')!.path;
    const emit = (p: string, iface: string, values: Record<string, Variant>) => fake.bus.send(new Message({
      type: MessageType.SIGNAL, path: p, interface: 'org.freedesktop.DBus.Properties', member: 'PropertiesChanged',
      signature: 'sa{sv}as', body: [iface, values, []],
    }));
    emit(path, 'org.freedesktop.systemd1.Service', { Result: new Variant('s', 'exit-code'), ExecMainStatus: new Variant('i', 226), NRestarts: new Variant('u', 3) });
    emit(path, 'org.freedesktop.systemd1.Unit', { ActiveState: new Variant('s', 'failed'), InvocationID: new Variant('ay', Buffer.from('abcd', 'hex')) });
    emit(fake.units.get('other.service')!.path, 'org.freedesktop.systemd1.Unit', { ActiveState: new Variant('s', 'failed') });
    fake.bus.send(new Message({ type: MessageType.SIGNAL, path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager', member: 'UnitNew', signature: 'so', body: ['web.service', path] }));
    await new Promise((r) => setTimeout(r, 200));
    expect(changes).toEqual([
      ['web.service', 'org.freedesktop.systemd1.Service', { Result: 'exit-code', ExecMainStatus: 226, NRestarts: 3 }],
      ['web.service', 'org.freedesktop.systemd1.Unit', { ActiveState: 'failed', InvocationID: 'abcd' }],
      ['web.service', '', {}],
    ]);
    await sd.unwatchUnit('web.service');
    emit(path, 'org.freedesktop.systemd1.Unit', { ActiveState: new Variant('s', 'active') });
    await new Promise((r) => setTimeout(r, 100));
    expect(changes).toHaveLength(3);
  });
});
