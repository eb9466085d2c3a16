// dbus-daemon restarting under the daemon, on a private bus that comes back at the same address:
// the systemd link reconnects (p-retry), watches its units again and asks for a resync; the API
// owns org.autoharden1 again.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Message, MessageType, Variant } from 'dbus-next';
import { ApiClient } from '../../src/adapters/dbusApiClient.js';
import { Systemd } from '../../src/adapters/systemd.js';
import { ApiLink } from '../../src/daemon/apiLink.js';
import { SystemdLink } from '../../src/daemon/systemdLink.js';
import { FakeSystemd } from '../fakes/systemd-bus.js';

/** A dbus-daemon on a fixed socket path, which can be stopped and started again. */
class RestartableBus {
  readonly dir = mkdtempSync(join(tmpdir(), 'ah-rbus-'));
  readonly address = `unix:path=${join(this.dir, 'bus')}`;
  private child: ChildProcess | undefined;

  async start(): Promise<void> {
    const config = join(this.dir, 'bus.conf');
    writeFileSync(config, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>${this.address}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`);
    const child = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`dbus-daemon exited ${c}`)));
    });
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function until(pred: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the daemon when dbus-daemon restarts', () => {
  const bus = new RestartableBus();
  let fake: FakeSystemd;
  let link: SystemdLink;
  let api: ApiLink;
  const resyncs: string[] = [];
  const changes: string[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    await bus.start();
    fake = await FakeSystemd.start(bus.address);
    fake.addService('web.service');
    link = new SystemdLink({ connect: () => Systemd.connect({ address: bus.address, callTimeoutMs: 3000 }), onLog: (_l, m) => logs.push(m) });
    link.setEvents({ resync: (why) => resyncs.push(why), unitChanged: (u, i) => changes.push(`${u} ${i}`) });
    await link.watchUnit('web.service');
    api = new ApiLink({
      server: {
        version: '1', stateDirectory: '/var/lib/autoharden', address: bus.address, allowedUids: [process.getuid!()],
        handlers: {
          enroll: async () => 'x', status: async () => '[]', journal: async () => '[]', rollback: async () => '{}',
          unenroll: async () => '{}', export: async () => '', guardPause: async () => '{}',
        },
      },
      minTimeoutMs: 20,
      onLog: (_l, m) => logs.push(m),
    });
    await api.start();
  });

  afterAll(async () => {
    api?.close();
    link?.close();
    fake?.disconnect();
    await bus.dispose();
  });

  it('reconnects, owns its name again, and keeps watching its units', async () => {
    await bus.stop();
    fake.disconnect();
    await new Promise((r) => setTimeout(r, 300)); // a while without a bus: attempts fail and back off
    await bus.start();
    fake = await FakeSystemd.start(bus.address);
    fake.addService('web.service');

    await until(() => resyncs.includes('reconnected') && api.serving);
    expect(logs.some((l) => /lost the system bus/.test(l))).toBe(true);
    expect(logs.some((l) => /lost org\.autoharden1/.test(l))).toBe(true);
    // systemd calls work on the new connection, and the unit is watched there
    expect((await link.unitInfo('web.service')).activeState).toBe('active');
    fake.bus.send(new Message({
      type: MessageType.SIGNAL, path: fake.units.get('web.service')!.path, interface: 'org.freedesktop.DBus.Properties',
      member: 'PropertiesChanged', signature: 'sa{sv}as', body: ['org.freedesktop.systemd1.Unit', { ActiveState: new Variant('s', 'failed') }, []],
    }));
    await until(() => changes.includes('web.service org.freedesktop.systemd1.Unit'));
    // and callers find the daemon again
    const client = (await ApiClient.connect({ address: bus.address }))!;
    try {
      expect(await client.daemonRunning()).toBe(true);
      expect(await client.method('Status', 's', [''])).toBe('[]');
    } finally {
      client.close();
    }
  }, 30_000);
});
