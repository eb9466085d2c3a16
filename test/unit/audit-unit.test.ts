// The audit unit's properties (adapters/auditProperties.ts): the unit's execution context as read
// over D-Bus, passed back with the signatures systemd 252 reads them with; what cannot be passed
// back faithfully (hostile or absurd values, settings a transient unit cannot have) left out and
// listed. Values below are in dbus-next's forms (t → bigint, ay → Buffer), as GetAll returns them.
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { Variant } from 'dbus-next';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CARRIED, MAX_ENTRIES, argSafe, auditUnitName, auditUnitProperties, carryContext, directorySetting, type TransientProperty,
} from '../../src/adapters/auditProperties.js';
import { AuditAborted, MAX_OUTPUT, runAuditUnit, type AuditRun, type AuditSystemd } from '../../src/adapters/auditUnit.js';
import { AUDIT, auditReport, incompleteError } from '../../src/app/audit.js';
import { formatAudit } from '../../src/cli/auditCommands.js';
import { TECHNIQUES } from '../../src/core/audit.js';
import { SystemdError } from '../../src/adapters/systemd/errors.js';
import type { Props } from '../../src/adapters/systemd/values.js';
import { CONTROL } from '../../src/core/text.js';
import { parseUnitName } from '../../src/core/unitName.js';

const require = createRequire(import.meta.url);
require('dbus-next'); // its own load order (lib/message.js and lib/marshall-compat.js need each other)
const { marshallMessage, messageToJsFmt } = require('dbus-next/lib/marshall-compat.js') as {
  marshallMessage(m: object): [Buffer, number[]];
  messageToJsFmt(m: object): { body: unknown[] };
};
const { unmarshall } = require('dbus-next/lib/message.js') as { unmarshall(b: Buffer): object };

const p = (signature: string, value: unknown) => ({ signature, value });
const ALL_CAPS = 2n ** 64n - 1n;

/** What GetAll on org.freedesktop.systemd1.Service reports for a hardened nginx-like unit (252). */
function nginxLike(): Props {
  return {
    // not the sandbox: never carried
    Type: p('s', 'forking'), MainPID: p('u', 1234), ExecStart: p('a(sasbttttuii)', []), Environment: p('as', ['A=1']),
    RemoveIPC: p('b', true), WorkingDirectory: p('s', ''),
    User: p('s', 'www-data'), Group: p('s', ''), SupplementaryGroups: p('as', ['ssl-cert']), DynamicUser: p('b', false),
    ProtectSystem: p('s', 'strict'), ProtectHome: p('s', 'yes'), ProtectProc: p('s', 'invisible'), ProcSubset: p('s', 'all'),
    PrivateTmp: p('b', true), PrivateDevices: p('b', true), PrivateMounts: p('b', false), PrivateIPC: p('b', false),
    PrivateNetwork: p('b', false), PrivateUsers: p('b', false), ProtectKernelTunables: p('b', true), ProtectKernelModules: p('b', true),
    ProtectKernelLogs: p('b', true), ProtectClock: p('b', true), ProtectControlGroups: p('b', true), ProtectHostname: p('b', true),
    MountAPIVFS: p('b', false), MountFlags: p('t', 0n), UMask: p('u', 0o027),
    ReadWritePaths: p('as', ['/var/log/nginx', '-/var/cache/nginx']), ReadOnlyPaths: p('as', []), InaccessiblePaths: p('as', ['/etc/ssh']),
    ExecPaths: p('as', []), NoExecPaths: p('as', []),
    BindPaths: p('a(ssbt)', [['/srv/www', '/var/www', false, 16384n]]), BindReadOnlyPaths: p('a(ssbt)', [['/etc/ssl', '/etc/ssl', true, 0n]]),
    TemporaryFileSystem: p('a(ss)', [['/var/tmp', 'ro']]), NetworkNamespacePath: p('s', ''), IPCNamespacePath: p('s', ''),
    CapabilityBoundingSet: p('t', (1n << 0n) | (1n << 6n) | (1n << 7n) | (1n << 10n)), AmbientCapabilities: p('t', 0n), SecureBits: p('i', 0),
    NoNewPrivileges: p('b', true), KeyringMode: p('s', 'private'),
    SystemCallFilter: p('(bas)', [true, ['accept4', 'read', 'write']]), SystemCallArchitectures: p('as', ['native']),
    SystemCallErrorNumber: p('i', 2147483646), SystemCallLog: p('(bas)', [false, []]),
    RestrictAddressFamilies: p('(bas)', [true, ['AF_INET', 'AF_INET6', 'AF_UNIX']]), RestrictNamespaces: p('t', 0n),
    RestrictRealtime: p('b', true), RestrictSUIDSGID: p('b', true), MemoryDenyWriteExecute: p('b', true), LockPersonality: p('b', true),
    Personality: p('s', ''), AppArmorProfile: p('(bs)', [false, '']), SmackProcessLabel: p('(bs)', [false, '']),
    SELinuxContext: p('(bs)', [false, '']),
    IPAddressAllow: p('a(iayu)', [[2, Buffer.from([127, 0, 0, 0]), 8], [10, Buffer.alloc(16), 0]]),
    IPAddressDeny: p('a(iayu)', [[2, Buffer.from([0, 0, 0, 0]), 0]]), IPIngressFilterPath: p('as', []), IPEgressFilterPath: p('as', []),
    DevicePolicy: p('s', 'closed'), DeviceAllow: p('a(ss)', [['char-rtc', 'r']]),
    SocketBindAllow: p('a(iiqq)', [[2, 6, 1, 80]]), SocketBindDeny: p('a(iiqq)', [[0, 0, 0, 0]]),
    RestrictNetworkInterfaces: p('(bas)', [false, []]), RestrictFileSystems: p('(bas)', [false, []]), Delegate: p('b', false),
    RootDirectory: p('s', ''), RootImage: p('s', ''), MountImages: p('a(ssba(ss))', []), PAMName: p('s', ''),
    RuntimeDirectory: p('as', ['nginx']), StateDirectory: p('as', ['nginx']), CacheDirectory: p('as', []), LogsDirectory: p('as', ['nginx']),
    ConfigurationDirectory: p('as', ['nginx']),
  };
}

const byName = (list: readonly TransientProperty[]) => new Map(list.map((x) => [x.name, x]));
const SPEC = {
  unit: 'nginx.service', battery: { source: '/usr/lib/autoharden/dist/audit/autoharden-battery', path: '/run/autoharden/audit/ab12.battery' },
  outputFile: '/run/autoharden/audit/ab12/out', args: ['--state', '/run/nginx'], timeoutSec: 60,
};

/** The property list as systemd would receive it: marshalled by dbus-next in a
 * StartTransientUnit call and read back. */
function overTheWire(props: readonly TransientProperty[]): Array<[string, { signature: string; value: unknown }]> {
  const msg = {
    serial: 1, type: 1, destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager',
    member: 'StartTransientUnit', signature: 'ssa(sv)a(sa(sv))',
    body: ['x.service', 'fail', props.map((x) => [x.name, new Variant(x.signature, x.value)]), []],
  };
  const [buf] = marshallMessage(msg);
  return messageToJsFmt(unmarshall(buf)).body[2] as Array<[string, { signature: string; value: unknown }]>;
}

describe('the audit unit carries the unit\'s execution context', () => {
  it('passes each sandbox setting back with the signature it was read with, value untouched', () => {
    const props = nginxLike();
    const ctx = carryContext(props);
    expect(ctx.skipped).toEqual([]);
    const got = byName(ctx.properties);
    for (const [name, value] of Object.entries(props)) {
      if (!(name in CARRIED)) continue;
      const carried = got.get(name);
      if (carried) {
        expect(carried.signature, name).toBe(value.signature);
        expect(carried.value, name).toBe(value.value); // the same object: never re-parsed
      }
    }
    // identity and the settings the battery's techniques depend on
    for (const name of ['User', 'SupplementaryGroups', 'ProtectSystem', 'ProtectHome', 'ReadWritePaths', 'InaccessiblePaths', 'CapabilityBoundingSet',
      'SystemCallFilter', 'RestrictAddressFamilies', 'IPAddressDeny', 'IPAddressAllow', 'SocketBindAllow', 'DeviceAllow', 'UMask', 'LockPersonality']) {
      expect(got.has(name), name).toBe(true);
    }
    // unset values systemd would refuse (or that mean nothing) are not passed
    for (const name of ['Group', 'Personality', 'MountFlags', 'NetworkNamespacePath', 'AppArmorProfile', 'SELinuxContext']) expect(got.has(name), name).toBe(false);
    // not the sandbox, or acting on the service's user when the audit unit stops
    for (const name of ['Type', 'MainPID', 'ExecStart', 'Environment', 'RemoveIPC', 'WorkingDirectory']) expect(got.has(name), name).toBe(false);
  });

  it('binds the unit\'s writable directories instead of copying its *Directory= settings', () => {
    const ctx = carryContext(nginxLike());
    expect(ctx.directories).toEqual(['/run/nginx', '/var/lib/nginx', '/var/log/nginx']);
    expect(ctx.directories.map(directorySetting)).toEqual(['RuntimeDirectory', 'StateDirectory', 'LogsDirectory']);
    const all = auditUnitProperties(ctx, SPEC);
    const names = all.map((x) => x.name);
    for (const d of ['RuntimeDirectory', 'StateDirectory', 'CacheDirectory', 'LogsDirectory', 'ConfigurationDirectory']) expect(names).not.toContain(d);
    const binds = byName(all).get('BindPaths')!;
    expect(binds.signature).toBe('a(ssbt)');
    // the unit's own bind first, then each directory onto itself, ignored where missing
    expect(binds.value).toEqual([
      ['/srv/www', '/var/www', false, 16384n],
      ['/run/nginx', '/run/nginx', true, 16384n], ['/var/lib/nginx', '/var/lib/nginx', true, 16384n], ['/var/log/nginx', '/var/log/nginx', true, 16384n],
    ]);
  });

  it('adds the battery read-only and executable under NoExecPaths=, run once, bounded and collected', () => {
    const all = byName(auditUnitProperties(carryContext({ ...nginxLike(), NoExecPaths: p('as', ['/']), ExecPaths: p('as', ['/usr']) }), SPEC));
    expect(all.get('BindReadOnlyPaths')!.value).toEqual([['/etc/ssl', '/etc/ssl', true, 0n], [SPEC.battery.source, SPEC.battery.path, false, 0n]]);
    expect(all.get('ExecPaths')!.value).toEqual(['/usr', SPEC.battery.path]);
    expect(all.get('NoExecPaths')!.value).toEqual(['/']);
    expect(all.get('ExecStart')).toEqual({ name: 'ExecStart', signature: 'a(sasb)', value: [[SPEC.battery.path, [SPEC.battery.path, '--state', '/run/nginx'], false]] });
    expect(all.get('Type')!.value).toBe('oneshot');
    expect(all.get('RemainAfterExit')!.value).toBe(false);
    expect(all.get('CollectMode')!.value).toBe('inactive-or-failed');
    expect(all.get('TimeoutStartUSec')!.value).toBe(60_000_000n);
    expect(all.get('StandardOutputFile')!.value).toBe(SPEC.outputFile);
    // each name once: systemd appends list settings given twice, last wins for scalars
    const names = auditUnitProperties(carryContext(nginxLike()), SPEC).map((x) => x.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('sends every property in a form dbus-next marshals under its signature, and reads back the same', () => {
    const all = auditUnitProperties(carryContext(nginxLike()), SPEC);
    const wire = overTheWire(all);
    expect(wire.map(([n]) => n)).toEqual(all.map((x) => x.name));
    wire.forEach(([name, v], i) => {
      expect(v.signature, name).toBe(all[i]!.signature);
      expect(v.value, name).toEqual(all[i]!.value);
    });
    // uint64 bit sets keep every bit (CapabilityBoundingSet=~ nothing: all 64)
    const caps = overTheWire(carryContext({ CapabilityBoundingSet: p('t', ALL_CAPS) }).properties);
    expect(caps[0]![1].value).toBe(ALL_CAPS);
  });

  it('passes the newer Ex form after the boolean: it says more, and wins where systemd takes it', () => {
    const got = carryContext({ PrivateTmpEx: p('s', 'disconnected'), PrivateTmp: p('b', true) }).properties;
    expect(got).toEqual([{ name: 'PrivateTmp', signature: 'b', value: true }, { name: 'PrivateTmpEx', signature: 's', value: 'disconnected' }]);
  });

  it('lists what it cannot carry: a different signature, settings a transient unit cannot have here', () => {
    const ctx = carryContext({
      ProtectSystem: p('b', true), RootDirectory: p('s', '/srv/chroot'), PAMName: p('s', 'login'), RootImage: p('s', ''),
      SELinuxContext: p('(bs)', [true, 'system_u:system_r:httpd_t:s0']),
    });
    expect(ctx.properties).toEqual([]);
    expect(ctx.skipped.map((s) => s.name).sort()).toEqual(['PAMName', 'ProtectSystem', 'RootDirectory', 'SELinuxContext']);
    expect(ctx.skipped.find((s) => s.name === 'ProtectSystem')!.reason).toBe('reported as b, not s');
    // a label that does not ask to be ignored goes as the plain string systemd takes transiently
    expect(carryContext({ SELinuxContext: p('(bs)', [false, 'system_u:system_r:httpd_t:s0']) }).properties)
      .toEqual([{ name: 'SELinuxContext', signature: 's', value: 'system_u:system_r:httpd_t:s0' }]);
  });
});

describe('hostile and absurd values never reach the transient unit', () => {
  it('leaves out a path list with a newline in an entry, and says so; the rest is carried', () => {
    const evil = '/var/lib/nginx\nExecStartPre=/bin/sh -c "id > /tmp/pwned"';
    const ctx = carryContext({ ...nginxLike(), ReadWritePaths: p('as', ['/var/log/nginx', evil]) });
    expect(ctx.properties.map((x) => x.name)).not.toContain('ReadWritePaths');
    const skip = ctx.skipped.find((s) => s.name === 'ReadWritePaths');
    expect(skip?.reason).toMatch(/control character or line break/);
    expect(skip?.reason).not.toContain('\n');
    expect(ctx.properties.map((x) => x.name)).toContain('InaccessiblePaths');
    expect(JSON.stringify(auditUnitProperties(ctx, SPEC), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('pwned');
  });

  it('leaves out absurdly long lists and strings', () => {
    const many = Array.from({ length: 100_000 }, (_, i) => `/srv/d${i}`);
    const ctx = carryContext({
      InaccessiblePaths: p('as', many), SystemCallFilter: p('(bas)', [false, Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => `s${i}`)]),
      ReadOnlyPaths: p('as', [`/${'a'.repeat(10_000)}`]), BindPaths: p('a(ssbt)', many.map((d) => [d, d, false, 0n])),
      StateDirectory: p('as', many.map((d) => d.slice(5))),
    });
    expect(ctx.properties).toEqual([]);
    expect(ctx.directories).toEqual([]);
    expect(ctx.skipped.map((s) => s.name).sort()).toEqual(['BindPaths', 'InaccessiblePaths', 'ReadOnlyPaths', 'StateDirectory', 'SystemCallFilter']);
    expect(ctx.skipped.find((s) => s.name === 'InaccessiblePaths')!.reason).toBe(`100000 entries, more than ${MAX_ENTRIES}`);
    // a list at the bound still goes
    expect(carryContext({ InaccessiblePaths: p('as', many.slice(0, MAX_ENTRIES)) }).properties).toHaveLength(1);
  });

  it('refuses relative paths, ":" in bind paths, and directory names that leave their base', () => {
    const ctx = carryContext({
      ReadWritePaths: p('as', ['-var/lib/x']), BindPaths: p('a(ssbt)', [['/a:b', '/c', false, 0n]]),
      TemporaryFileSystem: p('a(ss)', [['/run:x', 'ro']]), NetworkNamespacePath: p('s', 'netns'),
      RuntimeDirectory: p('as', ['ok', '../../etc', 'a/./b', '/abs', 'with space', '']), LogsDirectory: p('as', ['x/y']),
    });
    expect(ctx.properties).toEqual([]);
    expect(ctx.directories).toEqual(['/run/ok', '/var/log/x/y']);
    expect(ctx.skipped.filter((s) => s.name === 'RuntimeDirectory')).toHaveLength(5);
    expect(ctx.skipped.map((s) => s.name)).toEqual(expect.arrayContaining(['ReadWritePaths', 'BindPaths', 'TemporaryFileSystem', 'NetworkNamespacePath']));
  });

  it('wrong value types are left out, not passed for systemd to choke on', () => {
    const ctx = carryContext({
      ProtectHome: p('s', 42), NoNewPrivileges: p('b', 'yes'), UMask: p('u', '0022'), IPAddressDeny: p('a(iayu)', [[2, Buffer.alloc(3), 0]]),
      SystemCallFilter: p('(bas)', [true, 'read write']), DeviceAllow: p('a(ss)', [['/dev/null']]),
    });
    expect(ctx.properties).toEqual([]);
    expect(ctx.skipped).toHaveLength(6);
  });

  it('carries a path list exactly, or not at all: never a value with a control character', () => {
    const path = fc.string({ unit: fc.constantFrom('/', 'a', '-', '+', ':', '\n', '\r', '\u0000', '\u2028', '\u007f', '%', ' '), maxLength: 12 });
    fc.assert(fc.property(fc.array(path, { maxLength: 6 }), (list) => {
      const ctx = carryContext({ ReadWritePaths: p('as', list) });
      const carried = ctx.properties.find((x) => x.name === 'ReadWritePaths');
      if (carried) {
        expect(carried.value).toBe(list);
        for (const e of list) {
          expect(CONTROL.test(e)).toBe(false);
          expect(e.replace(/^-?\+?/, '').startsWith('/')).toBe(true);
        }
      } else {
        expect(ctx.skipped.map((s) => s.name)).toEqual(['ReadWritePaths']);
      }
    }));
  });
});

describe('the audit unit\'s name and the battery\'s arguments', () => {
  it('is autoharden-audit-<stem>-<random>.service, never a template instance or an escape', () => {
    for (const unit of ['nginx.service', 'getty@tty1.service', 'a\\x2db.service', 'x:y.service']) {
      const name = auditUnitName(unit, 'ab12cd');
      expect(name).toMatch(/^autoharden-audit-[A-Za-z0-9_.-]+-ab12cd\.service$/);
      expect(parseUnitName(name, { serviceOnly: true })).toBe(name);
    }
    expect(auditUnitName('nginx.service', '0f')).toBe('autoharden-audit-nginx-0f.service');
    expect(auditUnitName(`${'x'.repeat(250)}.service`, '0f').length).toBeLessThanOrEqual(255);
  });

  it('passes only plain absolute paths to the battery ($VAR would be expanded by systemd)', () => {
    expect(argSafe('/var/lib/nginx')).toBe(true);
    for (const bad of ['/var/lib/$HOME', 'var/lib', '/a b', '/a\nb', `/${'a'.repeat(250)}`, '/%h']) expect(argSafe(bad), bad).toBe(false);
  });
});

describe('runAuditUnit: the transient unit and its files, whatever happens', () => {
  let root = '';
  let battery = '';
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ah-audit-'));
    battery = join(root, 'battery');
    writeFileSync(battery, '#!/bin/true\n', { mode: 0o755 });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const runDir = () => join(root, 'run', 'audit');
  const missing = `ah-audit-test-${process.pid}-absent`;
  const DONE = '{"id":"write-etc","outcome":"blocked","detail":"EROFS"}\n{"done":true,"count":1}\n';

  /** systemd as the audit sees it; `start` plays the transient unit (it may write its stdout). */
  function fakeSystemd(start: (name: string, props: Map<string, TransientProperty>) => Promise<string>) {
    const calls = { started: [] as string[], stopped: [] as string[], reset: [] as string[] };
    const sd: AuditSystemd = {
      // directories that exist nowhere: nothing to bind, nothing for --state
      rawProperties: async () => ({ ...nginxLike(), RuntimeDirectory: p('as', [missing]), StateDirectory: p('as', [missing]), LogsDirectory: p('as', [missing]) }),
      startTransient: (name, props) => {
        calls.started.push(name);
        return start(name, byName(props));
      },
      stop: async (name) => {
        calls.stopped.push(name);
        return 'done';
      },
      resetFailed: async (name) => {
        calls.reset.push(name);
      },
    };
    return { sd, calls };
  }

  it('runs the battery with its stdout in a fresh 0700 directory and a mount point of its own, then removes both', async () => {
    let seen: { dirMode: number; outMode: number; mountPoint: boolean } | undefined;
    const { sd, calls } = fakeSystemd(async (_name, props) => {
      const out = props.get('StandardOutputFile')!.value as string;
      const mountPoint = (props.get('BindReadOnlyPaths')!.value as unknown[][]).at(-1)![1] as string;
      seen = { dirMode: statSync(dirname(out)).mode & 0o777, outMode: statSync(out).mode & 0o777, mountPoint: statSync(mountPoint).isFile() };
      expect(props.get('ExecStart')!.value).toEqual([[mountPoint, [mountPoint, '--peer', '10.0.0.2:80'], false]]);
      expect(dirname(mountPoint)).toBe(runDir());
      appendFileSync(out, DONE);
      return 'done';
    });
    const run = await runAuditUnit(sd, 'nginx.service', { battery, runDir: runDir(), peer: '10.0.0.2:80' });
    expect(seen).toEqual({ dirMode: 0o700, outMode: 0o600, mountPoint: true });
    expect(run).toMatchObject({ jobResult: 'done', output: DONE, truncated: false });
    expect(run.auditUnit).toMatch(/^autoharden-audit-nginx-[0-9a-f]{12}\.service$/);
    expect(calls.started).toEqual([run.auditUnit]);
    expect(calls.stopped).toEqual([]);
    expect(readdirSync(runDir())).toEqual([]);
    expect(statSync(runDir()).mode & 0o777).toBe(0o711);
  });

  it('reads at most MAX_OUTPUT bytes of what the unit printed', async () => {
    const { sd } = fakeSystemd(async (_n, props) => {
      writeFileSync(props.get('StandardOutputFile')!.value as string, 'x'.repeat(MAX_OUTPUT + 4096));
      return 'done';
    });
    const run = await runAuditUnit(sd, 'nginx.service', { battery, runDir: runDir() });
    expect(run.output.length).toBe(MAX_OUTPUT);
    expect(run.truncated).toBe(true);
    expect(readdirSync(runDir())).toEqual([]);
  });

  it('drops a property this systemd cannot set transiently, lists it, and starts again under a new name', async () => {
    const { sd, calls } = fakeSystemd(async (_n, props) => {
      if (props.has('SystemCallLog')) throw new SystemdError('Failed', 'StartTransientUnit: Cannot set property SystemCallLog, or unknown property.');
      return 'done';
    });
    const run = await runAuditUnit(sd, 'nginx.service', { battery, runDir: runDir() });
    expect(calls.started).toHaveLength(2);
    expect(calls.started[1]).not.toBe(calls.started[0]);
    expect(run.skipped).toContainEqual({ name: 'SystemCallLog', reason: 'this systemd cannot set it on a transient unit' });
    expect(readdirSync(runDir())).toEqual([]);
  });

  it('does not drop one of its own properties, nor retry any other error', async () => {
    const { sd, calls } = fakeSystemd(async () => {
      throw new SystemdError('Failed', 'StartTransientUnit: Cannot set property ExecStart, or unknown property.');
    });
    await expect(runAuditUnit(sd, 'nginx.service', { battery, runDir: runDir() })).rejects.toThrow(/ExecStart/);
    expect(calls.started).toHaveLength(1);
    expect(readdirSync(runDir())).toEqual([]);
  });

  it('stops a unit whose job did not end in time, and removes its files', async () => {
    const { sd, calls } = fakeSystemd(async () => {
      throw new SystemdError('Timeout', 'job for x did not finish');
    });
    await expect(runAuditUnit(sd, 'nginx.service', { battery, runDir: runDir() })).rejects.toThrow(/did not finish/);
    expect(calls.stopped).toEqual(calls.started);
    expect(calls.reset).toEqual(calls.started);
    expect(readdirSync(runDir())).toEqual([]);
  });

  it('on abort stops the unit at once and removes its files', async () => {
    const ac = new AbortController();
    const { sd, calls } = fakeSystemd(() => {
      setImmediate(() => ac.abort());
      return new Promise<string>(() => {}); // the job never ends
    });
    await expect(runAuditUnit(sd, 'nginx.service', { battery, runDir: runDir(), signal: ac.signal })).rejects.toBeInstanceOf(AuditAborted);
    expect(calls.stopped).toEqual(calls.started);
    expect(readdirSync(runDir())).toEqual([]);
  });

  it('refuses a missing battery, or one the service user cannot run, before it creates anything', async () => {
    const { sd, calls } = fakeSystemd(async () => 'done');
    await expect(runAuditUnit(sd, 'nginx.service', { battery: join(root, 'nope'), runDir: runDir() })).rejects.toThrow(/is missing/);
    chmodSync(battery, 0o750);
    await expect(runAuditUnit(sd, 'nginx.service', { battery, runDir: runDir() })).rejects.toThrow(/everyone may execute/);
    expect(calls.started).toEqual([]);
    expect(existsSync(runDir())).toBe(false);
  });

  it('removes what a killed audit left, once older than any audit runs, and nothing else', async () => {
    mkdirSync(join(runDir(), 'aaaaaaaaaaaa'), { recursive: true });
    writeFileSync(join(runDir(), 'aaaaaaaaaaaa.battery'), '');
    writeFileSync(join(runDir(), 'bbbbbbbbbbbb.battery'), '');
    writeFileSync(join(runDir(), 'not-ours'), '');
    const old = new Date(Date.now() - 3600_000);
    for (const n of ['aaaaaaaaaaaa', 'aaaaaaaaaaaa.battery', 'not-ours']) utimesSync(join(runDir(), n), old, old);
    const { sd } = fakeSystemd(async () => 'done');
    await runAuditUnit(sd, 'nginx.service', { battery, runDir: runDir() });
    expect(readdirSync(runDir()).sort()).toEqual(['bbbbbbbbbbbb.battery', 'not-ours']);
  });

  it('refuses a run directory others may write', async () => {
    mkdirSync(runDir(), { recursive: true, mode: 0o777 });
    chmodSync(runDir(), 0o777);
    const { sd, calls } = fakeSystemd(async () => 'done');
    await expect(runAuditUnit(sd, 'nginx.service', { battery, runDir: runDir() })).rejects.toThrow(/only autoharden may write/);
    expect(calls.started).toEqual([]);
  });
});

describe('the audit report', () => {
  const run = (output: string, over: Partial<AuditRun> = {}) => ({
    unit: 'nginx.service', auditUnit: 'autoharden-audit-nginx-0f.service', jobResult: 'done', output, truncated: false, skipped: [], ...over,
  });
  const full = (outcome: (id: string) => string) =>
    `${TECHNIQUES.map((t) => JSON.stringify({ id: t.id, outcome: outcome(t.id), detail: t.id === 'write-etc' ? 'EROFS\u001b[31m' : '' })).join('\n')}\n{"done":true,"count":${TECHNIQUES.length}}\n`;

  it('counts, describes and prints each technique on one line', () => {
    const r = auditReport(run(full((id) => (id.startsWith('write-') ? 'blocked' : id === 'exec-state' ? 'skipped' : 'possible')), {
      skipped: [{ name: 'RootDirectory', reason: 'not carried' }],
    }));
    expect(r.complete).toBe(true);
    expect(r.summary).toEqual({ blocked: 4, possible: TECHNIQUES.length - 5, skipped: 1, error: 0, total: TECHNIQUES.length, applicable: TECHNIQUES.length - 1 });
    expect(r.techniques[0]).toEqual({ id: 'write-etc', description: TECHNIQUES[0]!.title, result: 'blocked', detail: 'EROFS [31m' });
    expect(incompleteError(r)).toBeUndefined();
    const text = formatAudit(r).split('\n');
    // no settings nor checks given: said once, nothing compared
    expect(r.disagreements).toEqual([]);
    expect(text).toHaveLength(TECHNIQUES.length + 3);
    expect(text).toContain("the unit's settings could not be read: the score and the battery were not compared");
    expect(text[0]).toBe(`blocked  — ${TECHNIQUES[0]!.title} (EROFS [31m)`);
    expect(text).toContain(`blocked 4/${TECHNIQUES.length - 1}`);
    expect(text.at(-1)).toBe('not carried into the audit: RootDirectory — not carried');
    for (const line of text) expect(line).not.toMatch(CONTROL);
  });

  it('is incomplete, never all blocked, when the unit failed or the output was cut or forged', () => {
    for (const r of [
      auditReport(run('', { jobResult: 'failed' })),
      auditReport(run(full(() => 'blocked'), { truncated: true })),
      auditReport(run(full(() => 'blocked').replace('{"done":true', '{"id":"write-etc","outcome":"blocked","detail":""}\n{"done":true'))),
    ]) {
      expect(r.complete).toBe(false);
      expect(incompleteError(r)?.message).toMatch(/incomplete/);
    }
    const failed = auditReport(run('', { jobResult: 'failed' }));
    expect(failed.summary.blocked).toBe(0);
    expect(failed.problems[0]).toMatch(/ended "failed" \(journalctl -u autoharden-audit-nginx-0f.service\)/);
  });

  it('takes --peer only as the battery does: a numeric address and a port', () => {
    expect(AUDIT.parse({ unit: 'nginx', peer: '10.251.0.2:8080' })).toEqual({ unit: 'nginx.service', peer: '10.251.0.2:8080' });
    expect(AUDIT.parse({ unit: 'nginx.service', peer: '[::1]:80' }).peer).toBe('[::1]:80');
    for (const peer of ['example.com:80', '10.0.0.1', '10.0.0.1:0', '10.0.0.1:80;reboot', '[::1]:80\n']) {
      expect(() => AUDIT.parse({ unit: 'nginx.service', peer }), peer).toThrow(expect.objectContaining({ code: 'Usage' }));
    }
    for (const unit of ['../etc/passwd', 'getty@.service', 'x.socket']) expect(() => AUDIT.parse({ unit }), unit).toThrow(expect.objectContaining({ code: 'Usage' }));
  });
});
