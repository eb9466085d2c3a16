// Units autoharden must never restart (issue 9 item 6): the pure predicate, and the refusal of
// `tune` (preflight) and `enroll` by the unit's canonical name, read from a fake systemd on a
// private bus that knows aliases as systemd does.
import { mkdtempSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Systemd } from '../../src/adapters/systemd.js';
import { AutohardenError, EXIT_CODES } from '../../src/core/errors.js';
import { protectedUnitReason, refuseProtectedUnit } from '../../src/core/protectedUnits.js';
import { Daemon } from '../../src/daemon/daemon.js';
import type { Ports } from '../../src/engine/ports.js';
import { preflight } from '../../src/engine/tune.js';
import { startFakeSystemd, type FakeSystemdBus } from '../fakes/systemd-bus.js';
import { daemonDeps } from './daemon-fakes.js';
import { thrown } from './expect-errors.js';

describe('protectedUnitReason', () => {
  it.each([
    ['dbus.service', /system bus/],
    ['dbus.socket', /system bus/],
    ['dbus-broker.service', /system bus/],
    ['dbus-daemon.service', /system bus/],
    ['messagebus.service', /system bus/],
    ['autoharden.service', /does not tune itself/],
    ['systemd-journald.service', /systemd's own/],
    ['systemd-journald.socket', /systemd's own/],
    ['systemd-logind.service', /systemd's own/],
    ['systemd-fsck@dev-sda1.service', /systemd's own/],
    ['init.scope', /systemd's own/],
    ['-.slice', /systemd's own/],
    ['system.slice', /systemd's own/],
    ['user-1000.slice', /systemd's own/],
    ['emergency.service', /systemd's own/],
    ['rescue.service', /systemd's own/],
    ['user@1000.service', /user's service manager/],
    ['user-runtime-dir@0.service', /user's service manager/],
    ['getty@tty1.service', /console login/],
    ['serial-getty@ttyS0.service', /console login/],
    ['container-getty@1.service', /console login/],
    ['autovt@tty2.service', /console login/],
    ['console-getty.service', /console login/],
  ])('protects %s', (name, reason) => {
    expect(protectedUnitReason([name])).toMatch(reason);
  });

  it.each([
    'ssh.service', 'sshd.service', 'nginx.service', 'autoharden-sample.service', 'dbus-org.example.service',
    'mysystemd-thing.service', 'systemd.service.d', 'usermanager@x.service', 'cron.service', 'polkit.service',
  ])('lets %s be tuned', (name) => {
    expect(protectedUnitReason([name])).toBeUndefined();
  });

  it('is protected when any one of its names is, whatever the order', () => {
    expect(protectedUnitReason(['messagebus.service', 'x.service'])).toMatch(/system bus/);
    expect(protectedUnitReason(['x.service', 'dbus.service'])).toMatch(/system bus/);
    expect(protectedUnitReason([])).toBeUndefined();
  });

  it('property: every systemd-NAME.service is refused, and adding names never unprotects', () => {
    const name = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,30}$/);
    fc.assert(fc.property(name, fc.array(name.map((n) => `${n}.service`)), (n, others) => {
      expect(protectedUnitReason([`systemd-${n}.service`])).toBeDefined();
      expect(protectedUnitReason([...others, `systemd-${n}.service`, ...others])).toBeDefined();
    }));
  });
});

describe('refuseProtectedUnit', () => {
  const refusal = (f: () => void) => thrown(f, AutohardenError);

  it('names the alias and the unit it resolves to, in one line, as a usage error (exit 2)', () => {
    const e = refusal(() => refuseProtectedUnit('tune', 'messagebus.service', { id: 'dbus.service', names: ['dbus.service', 'messagebus.service'] }));
    expect(e.code).toBe('Usage');
    expect(EXIT_CODES[e.code]).toBe(2);
    expect(e.message).toBe('refusing to tune messagebus.service (alias of dbus.service): autoharden never restarts the system bus');
  });

  it('says nothing of an alias when the unit is asked for by its own name', () => {
    const e = refusal(() => refuseProtectedUnit('enroll', 'dbus.service', { id: 'dbus.service', names: ['dbus.service'] }));
    expect(e.message).toBe('refusing to enroll dbus.service: autoharden never restarts the system bus');
  });

  it('refuses by the requested name when systemd gave no names (stand-ins)', () => {
    expect(refusal(() => refuseProtectedUnit('tune', 'autoharden.service', {})).message).toMatch(/does not tune itself/);
  });

  it('lets an innocent alias of an innocent unit through (sshd → ssh on Debian)', () => {
    expect(() => refuseProtectedUnit('tune', 'sshd.service', { id: 'ssh.service', names: ['ssh.service', 'sshd.service'] })).not.toThrow();
  });

  it('catches a harmless-looking alias of a protected unit through Names alone', () => {
    expect(refusal(() => refuseProtectedUnit('tune', 'bus.service', { id: 'bus.service', names: ['bus.service', 'dbus-broker.service'] })).code).toBe('Usage');
  });
});

describe('refusal by canonical name, over D-Bus (fake systemd)', () => {
  let env: FakeSystemdBus;
  let sd: Systemd;

  beforeAll(async () => {
    env = await startFakeSystemd();
    for (const [unit, type, alias] of [
      ['dbus.service', 'dbus', 'messagebus.service'],
      ['dbus-broker.service', 'notify', 'bus-alias.service'],
      ['ssh.service', 'notify', 'sshd.service'],
    ] as const) {
      env.fake.addService(unit, { Type: type });
      env.fake.addAlias(alias, unit);
    }
  });

  afterAll(() => env?.stop());

  beforeEach(async () => {
    env.fake.calls.length = 0;
    sd = await Systemd.connect({ address: env.bus.address, callTimeoutMs: 2_000 });
  });

  afterEach(() => sd.close());

  /** Only what preflight touches; every probe run is counted. */
  function ports(): { ports: Ports; probes: number } {
    const out = { probes: 0, ports: undefined as unknown as Ports };
    out.ports = {
      systemd: sd,
      probe: async () => {
        out.probes++;
        return [];
      },
    } as unknown as Ports;
    return out;
  }

  const changes = () => env.fake.calls.filter((c) => !c.startsWith('LoadUnit') && !c.startsWith('Subscribe'));

  it('unitInfo resolves an alias to the canonical Id and lists every name', async () => {
    const info = await sd.unitInfo('messagebus.service');
    expect(info.id).toBe('dbus.service');
    expect(info.names).toEqual(['dbus.service', 'messagebus.service']);
    expect((await sd.unitInfo('ssh.service')).names).toEqual(['ssh.service', 'sshd.service']);
  });

  it.each([
    ['dbus.service', 'refusing to tune dbus.service: autoharden never restarts the system bus'],
    ['messagebus.service', 'refusing to tune messagebus.service (alias of dbus.service): autoharden never restarts the system bus'],
    ['bus-alias.service', 'refusing to tune bus-alias.service (alias of dbus-broker.service): autoharden never restarts the system bus'],
  ])('preflight refuses `tune %s` before any probe, changing nothing', async (unit, message) => {
    const p = ports();
    const e = await preflight(p.ports, unit, []).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(AutohardenError);
    expect((e as AutohardenError).code).toBe('Usage');
    expect((e as AutohardenError).message).toBe(message);
    expect(p.probes).toBe(0);
    expect(changes()).toEqual([]);
  });

  it('preflight lets sshd.service (an alias of ssh.service) through', async () => {
    const p = ports();
    await preflight(p.ports, 'sshd.service', []);
    expect(p.probes).toBeGreaterThan(0);
  });

  describe('the daemon', () => {
    let stateDir: string;
    let daemon: Daemon;

    beforeEach(() => {
      stateDir = mkdtempSync(join(tmpdir(), 'ah-protected-'));
      daemon = new Daemon(daemonDeps(stateDir, { systemd: sd, portsFor: () => ({}) as Ports }));
    });

    afterEach(async () => daemon.stop());

    const enrolled = () => (existsSync(join(stateDir, 'enrollments')) ? readdirSync(join(stateDir, 'enrollments')) : []);

    it('refuses to enroll an alias of the system bus, queueing nothing', async () => {
      // (messagebus is refused by its name already when the spec is parsed; this alias is not)
      const e = await daemon.enroll({ unit: 'bus-alias' }).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(AutohardenError);
      expect((e as AutohardenError).code).toBe('Usage');
      expect((e as AutohardenError).message).toBe('refusing to enroll bus-alias.service (alias of dbus-broker.service): autoharden never restarts the system bus');
      expect(enrolled()).toEqual([]);
      expect(daemon.status('')).toEqual([]);
      expect(changes()).toEqual([]);
    });

    it('enrolls sshd.service', async () => {
      expect(await daemon.enroll({ unit: 'sshd' })).toBe('sshd.service');
      expect(enrolled()).toEqual(['sshd.service.json']);
    });
  });
});
