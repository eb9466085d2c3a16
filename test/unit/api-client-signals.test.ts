// The CLI hears Progress/TrialFinished only from the daemon's unique bus name (issue 9 item 7):
// any local user may send a signal straight to the CLI's unique name (no match rule stops a
// unicast signal), so a forged "trial accepted" must be dropped; a new daemon is believed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Message, MessageType, type MessageBus } from 'dbus-next';
import { ApiClient } from '../../src/adapters/dbusApiClient.js';
import { INTERFACE, OBJECT_PATH } from '../../src/adapters/dbusApi.js';
import { ApiServer, type ManagerHandlers } from '../../src/adapters/dbusApiServer.js';
import { connectStranger, startPrivateBus, type PrivateBus } from '../fakes/systemd-bus.js';

const handlers = {} as ManagerHandlers;
/** A connection's unique name: dbus-next sets it, its types do not declare it. */
const nameOf = (b: MessageBus) => (b as unknown as { name: string }).name;
const busOf = (c: ApiClient) => (c as unknown as { bus: MessageBus }).bus;

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A round trip to the bus: everything `bus` sent before has been routed. */
async function flushed(bus: MessageBus): Promise<void> {
  await bus.call(new Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'GetId' }));
}

function forge(bus: MessageBus, member: 'Progress' | 'TrialFinished', destination?: string): void {
  const body = member === 'Progress' ? ['a.service', 'tuning', 'FORGED'] : ['a.service', 99, 'accepted', 'ProtectSystem=no', 'FORGED'];
  bus.send(new Message({
    type: MessageType.SIGNAL, path: OBJECT_PATH, interface: INTERFACE, member,
    signature: member === 'Progress' ? 'sss' : 'sisss', body, ...(destination ? { destination } : {}),
  }));
}

describe('ApiClient signals', () => {
  let bus: PrivateBus;
  let server: ApiServer;
  let client: ApiClient;
  let stranger: MessageBus;
  const got: string[] = [];
  const owners: boolean[] = [];
  let reachedClient = 0;
  const start = () => ApiServer.start({ handlers, version: '1', stateDirectory: '/x', address: bus.address, allowedUids: [process.getuid!()] });

  beforeAll(async () => {
    bus = await startPrivateBus();
    server = await start();
    client = (await ApiClient.connect({ address: bus.address }))!;
    stranger = await connectStranger(bus.address);
    // what reaches the client's connection at all, before its filter
    busOf(client).on('message', (m: Message) => {
      if (m.sender === nameOf(stranger) && m.interface === INTERFACE) reachedClient++;
    });
    await client.subscribe({
      progress: (u, s, m) => got.push(`${u} ${s} ${m}`),
      trialFinished: (u, t, o, _s, r) => got.push(`${u} #${t} ${o} ${r}`),
      ownerChanged: (running) => owners.push(running),
    }, 'a.service');
  });

  afterAll(async () => {
    client?.close();
    server?.close();
    stranger?.disconnect();
    await bus?.stop();
  });

  it('drops Progress and TrialFinished that another connection sends, to it or to everyone', async () => {
    const me = nameOf(busOf(client));
    forge(stranger, 'Progress', me);
    forge(stranger, 'TrialFinished', me);
    forge(stranger, 'Progress');
    await flushed(stranger);
    server.progress('a.service', 'tuning', 'real');
    await until(() => got.length > 0);
    await client.daemonRunning(); // one more round trip: nothing is left in flight
    expect(reachedClient).toBeGreaterThanOrEqual(2); // the unicast forgeries did arrive…
    expect(got).toEqual(['a.service tuning real']); // …and were ignored
  });

  it('believes the next daemon once the bus says it owns org.autoharden1, and only it', async () => {
    got.length = 0;
    server.close();
    await until(() => owners.includes(false));
    server = await start();
    await until(() => owners.at(-1) === true);
    forge(stranger, 'Progress', nameOf(busOf(client)));
    await flushed(stranger);
    server.trialFinished('a.service', 3, 'accepted', 'PrivateTmp=yes', 'ok');
    await until(() => got.length > 0);
    await client.daemonRunning();
    expect(got).toEqual(['a.service #3 accepted ok']);
  });

  it('hears nothing from a stranger while no daemon runs, even one that claims the object path', async () => {
    got.length = 0;
    server.close();
    await until(() => owners.at(-1) === false);
    const before = reachedClient;
    forge(stranger, 'Progress', nameOf(busOf(client)));
    await flushed(stranger);
    expect(await client.daemonRunning()).toBe(false); // its reply comes after the forgery
    expect(reachedClient).toBe(before + 1);
    expect(got).toEqual([]);
  });
});
