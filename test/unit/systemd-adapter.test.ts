// The systemd D-Bus adapter against a fake systemd on a private dbus-daemon.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DBusError, type MessageBus } from 'dbus-next';
import { capLastCap as readCapLastCap } from '../../src/adapters/procfs.js';
import { Systemd, SystemdError, convertProperty, formatAddress } from '../../src/adapters/systemd.js';
import { convertValue } from '../../src/adapters/systemd/values.js';
import {
  connectStranger,
  sendJobRemoved,
  startFakeSystemd,
  type FakeSystemd,
  type FakeSystemdBus,
  type PrivateBus,
} from '../fakes/systemd-bus.js';
import { rejection as rejected } from './expect-errors.js';
import { FEATURES_252 } from '../fakes/platforms.js';

const rejection = (p: Promise<unknown>) => rejected(p, SystemdError);

const capLastCap = Number.parseInt(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'), 10);
const ALL_CAPS = Number((1n << BigInt(capLastCap + 1)) - 1n);

describe('Systemd adapter (fake systemd on a private bus)', () => {
  let env: FakeSystemdBus;
  let bus: PrivateBus;
  let fake: FakeSystemd;
  let sd: Systemd;

  beforeAll(async () => {
    env = await startFakeSystemd();
    ({ bus, fake } = env);
  });

  afterAll(() => env?.stop());

  beforeEach(async () => {
    fake.job = { order: 'reply-first', result: 'done' };
    fake.jobFor.clear();
    fake.hang.clear();
    fake.addService('web.service');
    sd = await Systemd.connect({ address: bus.address, callTimeoutMs: 2_000 });
  });

  afterEach(() => {
    sd.close();
  });

  it('subscribes once per connection', async () => {
    const before = fake.subscribers.length;
    const other = await Systemd.connect({ address: bus.address });
    other.close();
    expect(fake.subscribers.length).toBe(before + 1);
    expect(new Set(fake.subscribers).size).toBe(fake.subscribers.length);
  });

  it('reads the build features, and none from a systemd without the property', async () => {
    expect(await sd.features()).toMatch(/ -BPF_FRAMEWORK /);
    fake.features = undefined;
    try {
      expect(await sd.features()).toBe('');
    } finally {
      fake.features = FEATURES_252;
    }
  });

  it("lists the Service interface's property names from a service unit", async () => {
    const names = await sd.servicePropertyNames('web.service');
    expect(names.length).toBeGreaterThan(3);
    expect(names).toContain('ProtectSystem');
  });

  it('parses the major version', async () => {
    expect(await sd.version()).toBe(252);
    fake.version = 'v257.1';
    expect(await sd.version()).toBe(257);
    fake.version = '252.38-1~deb12u1';
  });

  it('resolves restart() with the JobRemoved result when the signal comes after the reply', async () => {
    fake.job = { order: 'reply-first', result: 'done', delayMs: 30 };
    expect(await sd.restart('web.service', 2_000)).toBe('done');
    expect(fake.calls).toContain('RestartUnit(web.service, replace)');
  });

  it('resolves restart() when JobRemoved arrives before the reply (same read)', async () => {
    fake.job = { order: 'signal-first', result: 'failed' };
    expect(await sd.restart('web.service', 2_000)).toBe('failed');
  });

  it('resolves restart() when JobRemoved arrives well before the reply (separate reads)', async () => {
    fake.job = { order: 'signal-first', result: 'timeout', delayMs: 100 };
    expect(await sd.restart('web.service', 2_000)).toBe('timeout');
    // and again on the same connection: results are keyed by job path, nothing stale is reused
    fake.job = { order: 'signal-first', result: 'done', delayMs: 50 };
    expect(await sd.restart('web.service', 2_000)).toBe('done');
  });

  it('keeps concurrent jobs apart by job path', async () => {
    fake.addService('db.service');
    fake.jobFor.set('web.service', { order: 'signal-first', result: 'done', delayMs: 80 });
    fake.jobFor.set('db.service', { order: 'reply-first', result: 'failed', delayMs: 20 });
    const [a, b, c] = await Promise.all([
      sd.restart('web.service', 2_000),
      sd.restart('db.service', 2_000),
      sd.start('db.service', 2_000),
    ]);
    expect([a, b, c]).toEqual(['done', 'failed', 'failed']);
  });

  it('start() and stop() report their job results', async () => {
    fake.job = { order: 'signal-first', result: 'done', delayMs: 20 };
    expect(await sd.stop('web.service', 2_000)).toBe('done');
    expect(await sd.start('web.service', 2_000)).toBe('done');
    expect(fake.calls).toContain('StopUnit(web.service, replace)');
    expect(fake.calls).toContain('StartUnit(web.service, replace)');
  });

  it('ignores a JobRemoved that does not come from systemd', async () => {
    fake.job = { order: 'never', result: 'done' };
    const stranger: MessageBus = await connectStranger(bus.address);
    try {
      const jobsBefore = fake.jobs.size;
      const pending = sd.restart('web.service', 2_000);
      // wait for the job to exist, then spoof its result straight to every subscriber
      await expect.poll(() => fake.jobs.size).toBeGreaterThan(jobsBefore);
      const jobPath = [...fake.jobs.keys()].at(-1)!;
      for (const name of fake.subscribers) sendJobRemoved(stranger, name, jobPath, 'done');
      await new Promise((r) => setTimeout(r, 100));
      fake.emitJobRemoved(jobPath, 'failed');
      expect(await pending).toBe('failed');
    } finally {
      stranger.disconnect();
    }
  });

  it('rejects restart() with Timeout when no JobRemoved comes', async () => {
    fake.job = { order: 'never', result: 'done' };
    const started = Date.now();
    const err = await rejection(sd.restart('web.service', 300));
    expect(err.code).toBe('Timeout');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('rejects a call that never answers with Timeout, and the connection stays usable', async () => {
    fake.hang.add('ResetFailedUnit');
    const started = Date.now();
    const err = await rejection(sd.resetFailed('web.service'));
    expect(err.code).toBe('Timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(Date.now() - started).toBeLessThan(4_000);
    fake.hang.clear();
    await sd.resetFailed('web.service');
    expect(await sd.version()).toBe(252);
  });

  it('reload() has its own timeout', async () => {
    await sd.reload();
    fake.hang.add('Reload');
    const err = await rejection(sd.reload(200));
    expect(err.code).toBe('Timeout');
  });

  it('ignores "not loaded" from ResetFailedUnit', async () => {
    await expect(sd.resetFailed('never-loaded.service')).resolves.toBeUndefined();
    expect(fake.calls).toContain('ResetFailedUnit(never-loaded.service)');
  });

  it('throws NoSuchUnit for a unit systemd cannot find', async () => {
    const err = await rejection(sd.unitInfo('nope.service'));
    expect(err.code).toBe('NoSuchUnit');
    expect((await rejection(sd.restart('nope.service', 1_000))).code).toBe('NoSuchUnit');
    expect((await rejection(sd.unitInfo('no-suffix'))).code).toBe('InvalidArgs');
  });

  it('maps systemd refusals to JobFailed', async () => {
    // the fake refuses nothing by itself: make RestartUnit of one unit throw a systemd error
    const u = fake.addService('masked.service');
    const original = fake.enqueue.bind(fake);
    fake.enqueue = (member: string, name: string) => {
      if (name === u.name) {
        throw new DBusError('org.freedesktop.systemd1.UnitMasked', 'Unit masked.service is masked.');
      }
      return original(member, name);
    };
    try {
      const err = await rejection(sd.restart('masked.service', 1_000));
      expect(err.code).toBe('JobFailed');
      expect(err.dbusName).toBe('org.freedesktop.systemd1.UnitMasked');
    } finally {
      fake.enqueue = original;
    }
  });

  it('reads unitInfo from LoadUnit and the unit properties', async () => {
    fake.addService(
      'app.service',
      { Type: 'notify' },
      { DropInPaths: ['/run/systemd/system/app.service.d/zz-autoharden-90-trial.conf'], NeedDaemonReload: true },
    );
    expect(await sd.unitInfo('app.service')).toEqual({
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
      fragmentPath: '/lib/systemd/system/app.service',
      dropInPaths: ['/run/systemd/system/app.service.d/zz-autoharden-90-trial.conf'],
      needDaemonReload: true,
      type: 'notify',
      id: 'app.service',
      names: ['app.service'],
    });
    expect(fake.calls).toContain('LoadUnit(app.service)');
  });

  it('takes a snapshot with InvocationID as hex and numbers as numbers', async () => {
    const u = fake.addService('snap.service', { NRestarts: 3, MainPID: 4242, ExecMainCode: 2, ExecMainStatus: 31, Result: 'signal' });
    const id = u.unit.InvocationID as Buffer;
    const s = await sd.snapshot('snap.service');
    expect(s).toEqual({
      activeState: 'active',
      subState: 'running',
      result: 'signal',
      invocationId: id.toString('hex'),
      nRestarts: 3,
      mainPid: 4242,
      execMainCode: 2,
      execMainStatus: 31,
      controlPid: 0,
    });
    expect(s.invocationId).toMatch(/^[0-9a-f]{32}$/);
    fake.job = { order: 'signal-first', result: 'done' };
    await sd.restart('snap.service', 1_000);
    expect((await sd.snapshot('snap.service')).invocationId).not.toBe(s.invocationId);
  });

  it('converts service properties: BigInt, (bas), a(iayu), as, unknown → null', async () => {
    const ip4 = Buffer.from([10, 0, 0, 0]);
    const lo6 = Buffer.alloc(16);
    lo6[15] = 1;
    const ll6 = Buffer.from('fe800000000000000000000000000000', 'hex');
    fake.addService('props.service', {
      ProtectSystem: 'strict',
      NoNewPrivileges: true,
      UMask: 0o077,
      CapabilityBoundingSet: (1n << 1n) | (1n << 6n) | (1n << 7n) | (1n << 10n), // DAC_OVERRIDE SETGID SETUID NET_BIND_SERVICE
      AmbientCapabilities: 2n ** 64n - 2n, // everything but CAP_CHOWN: its low bit must survive
      RestrictNamespaces: 0x6e020000n,
      LimitNOFILE: 2n ** 64n - 1n,
      SystemCallFilter: [true, ['@system-service', 'ioperm:EPERM']],
      RestrictAddressFamilies: [false, ['AF_PACKET']],
      IPAddressAllow: [
        [2, ip4, 8],
        [10, lo6, 128],
        [10, ll6, 64],
      ],
      ReadWritePaths: ['/var/lib/app'],
      DeviceAllow: [['char-rtc', 'r']],
    });
    const names = [
      'ProtectSystem',
      'NoNewPrivileges',
      'UMask',
      'CapabilityBoundingSet',
      'AmbientCapabilities',
      'RestrictNamespaces',
      'LimitNOFILE',
      'SystemCallFilter',
      'RestrictAddressFamilies',
      'IPAddressAllow',
      'IPAddressDeny',
      'ReadWritePaths',
      'DeviceAllow',
      'NoSuchProperty',
    ];
    const eff = await sd.serviceProperties('props.service', names);
    expect(eff).toEqual({
      ProtectSystem: 'strict',
      NoNewPrivileges: true,
      UMask: 0o077,
      CapabilityBoundingSet: 2 + 64 + 128 + 1024,
      AmbientCapabilities: ALL_CAPS - 1,
      RestrictNamespaces: 0x6e020000,
      LimitNOFILE: Number(2n ** 64n - 1n),
      SystemCallFilter: { allow: true, items: ['@system-service', 'ioperm:EPERM'] },
      RestrictAddressFamilies: { allow: false, items: ['AF_PACKET'] },
      IPAddressAllow: [
        { family: 2, address: '10.0.0.0', prefix: 8 },
        { family: 10, address: '::1', prefix: 128 },
        { family: 10, address: 'fe80::', prefix: 64 },
      ],
      IPAddressDeny: [],
      ReadWritePaths: ['/var/lib/app'],
      DeviceAllow: ['char-rtc r'],
      NoSuchProperty: null,
    });
    for (const v of Object.values(eff)) expect(typeof v).not.toBe('bigint');
    expect(() => JSON.stringify(eff)).not.toThrow();
    // systemd's defaults: "all capabilities", "all namespaces allowed"
    const defaults = await sd.serviceProperties('web.service', ['CapabilityBoundingSet', 'RestrictNamespaces']);
    expect(defaults.CapabilityBoundingSet).toBe(ALL_CAPS);
    expect(Number.isSafeInteger(defaults.CapabilityBoundingSet)).toBe(true);
    expect(defaults.RestrictNamespaces).toBe(0x7e020080);
  });

  it('fails pending calls with Bus when close() is called, and later calls too', async () => {
    fake.hang.add('ResetFailedUnit');
    const p = sd.resetFailed('web.service');
    sd.close();
    expect((await rejection(p)).code).toBe('Bus');
    expect((await rejection(sd.version())).code).toBe('Bus');
    sd.close(); // idempotent
  });

  it('fails connect() with Bus when there is no bus', async () => {
    const err = await rejection(Systemd.connect({ address: 'unix:path=/nonexistent/bus', callTimeoutMs: 1_000 }));
    expect(err.code).toBe('Bus');
  });
});

describe('Systemd adapter when the bus goes away', () => {
  it('rejects pending calls and job waits with Bus, promptly', async () => {
    const env = await startFakeSystemd();
    const { bus, fake } = env;
    fake.addService('web.service');
    const sd = await Systemd.connect({ address: bus.address, callTimeoutMs: 10_000 });
    try {
      fake.hang.add('ResetFailedUnit');
      fake.job = { order: 'never', result: 'done' };
      const call = rejection(sd.resetFailed('web.service'));
      const job = rejection(sd.restart('web.service', 10_000));
      await expect.poll(() => fake.jobs.size).toBeGreaterThan(0);
      const started = Date.now();
      await bus.stop();
      expect((await call).code).toBe('Bus');
      expect((await job).code).toBe('Bus');
      expect(Date.now() - started).toBeLessThan(2_000);
      expect((await rejection(sd.version())).code).toBe('Bus');
    } finally {
      sd.close();
      await env.stop();
    }
  });
});

describe('value conversion', () => {
  it('formats IPv6 addresses as RFC 5952 text', () => {
    const v6 = (h: string) => formatAddress(10, Buffer.from(h, 'hex'));
    expect(v6('20010db8000000000000000000000001')).toBe('2001:db8::1');
    expect(v6('20010db8000000010000000000000001')).toBe('2001:db8:0:1::1');
    expect(v6('20010db8000100000001000000000000')).toBe('2001:db8:1:0:1::');
    expect(v6('00000000000000000000000000000000')).toBe('::');
    expect(v6('20010db8000100010001000100010001')).toBe('2001:db8:1:1:1:1:1:1');
    expect(v6('20010db8000000010001000100010001')).toBe('2001:db8:0:1:1:1:1:1');
    expect(v6('00000000000000000000ffffc0000201')).toBe('::ffff:192.0.2.1');
    expect(formatAddress(2, [127, 0, 0, 1])).toBe('127.0.0.1');
  });

  it('turns other shapes into text', () => {
    expect(convertProperty('ExecStart', 'a(sasbttttuii)', [['/bin/x', ['/bin/x', '-f'], false, 0n, 0n, 0n, 0n, 0, 0, 0]])).toEqual([
      '/bin/x /bin/x -f false 0 0 0 0 0 0 0',
    ]);
    expect(convertProperty('RootHash', 'ay', Buffer.from([0xab, 0x01]))).toBe('ab01');
    expect(convertProperty('TimeoutStopUSec', 't', 90_000_000n)).toBe(90_000_000);
  });

  it('masks capability sets to the kernel it is told about, and to 53 bits when that is unknown or absurd', () => {
    const all = 2n ** 64n - 1n;
    expect(convertValue('CapabilityBoundingSet', 't', all, { capLastCap: 40 })).toBe(2 ** 41 - 1);
    for (const capLastCap of [undefined, 63, -1, 1.5, Number.NaN]) {
      expect(convertValue('AmbientCapabilities', 't', all - 1n, { capLastCap })).toBe(2 ** 53 - 2);
    }
    // Not a bit set: keeps its magnitude.
    expect(convertValue('LimitNOFILE', 't', all, { capLastCap: 40 })).toBe(Number(all));
  });

  it('reads cap_last_cap from /proc, and nothing from what is not a number', () => {
    const root = mkdtempSync(join(tmpdir(), 'ah-proc-'));
    mkdirSync(join(root, 'sys/kernel'), { recursive: true });
    expect(readCapLastCap(root)).toBeUndefined();
    writeFileSync(join(root, 'sys/kernel/cap_last_cap'), '40\n');
    expect(readCapLastCap(root)).toBe(40);
    writeFileSync(join(root, 'sys/kernel/cap_last_cap'), 'forty\n');
    expect(readCapLastCap(root)).toBeUndefined();
    rmSync(root, { recursive: true, force: true });
  });
});
