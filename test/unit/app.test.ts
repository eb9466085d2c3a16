// The application layer: requests validated once by their use case, the error table, the D-Bus
// method table generated from the use cases, and a DaemonApp talking to a server built from the
// same descriptors (every request and answer crosses the wire and comes back equal).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/adapters/dbusApiClient.js';
import { METHODS, introspectionXml } from '../../src/adapters/dbusApi.js';
import { ApiServer, toDBusError } from '../../src/adapters/dbusApiServer.js';
import { DaemonApp } from '../../src/app/daemonApp.js';
import { ENROLL } from '../../src/app/enroll.js';
import { EXPORT } from '../../src/app/export.js';
import { JOURNAL } from '../../src/app/journal.js';
import { LocalApp } from '../../src/app/local.js';
import { managerHandlers, type Served } from '../../src/app/registry.js';
import { ROLLBACK } from '../../src/app/rollback.js';
import { STATUS } from '../../src/app/status.js';
import { TUNE } from '../../src/app/tune.js';
import { UNENROLL } from '../../src/app/unenroll.js';
import { AutohardenError, ERR, EXIT_CODES, Interrupted, codeOfDBusErrorName, dbusErrorName, errorCodeOf, exitCodeOf } from '../../src/core/errors.js';
import { startPrivateBus, type PrivateBus } from '../fakes/systemd-bus.js';
import { thrown } from './expect-errors.js';

const refusal = (fn: () => unknown) => thrown(fn, AutohardenError);

describe('the D-Bus method table comes from the use cases', () => {
  it('keeps every member, signature and argument name of the wire API', () => {
    const sig = (a: readonly { type: string }[]) => a.map((x) => x.type).join('');
    expect(METHODS.map((m) => `${m.name}(${sig(m.in)})${sig(m.out)} ${m.in.map((a) => a.name).join(',')}`)).toEqual([
      'Enroll(s)s spec', 'Status(s)s unit', 'Journal(s)s unit', 'Rollback(ssbu)s unit,option,all,settle_ms', 'Unenroll(ss)s unit,mode', 'Export(ss)s unit,format', 'GuardPause(ssu)s unit,action,for_ms',
    ]);
    expect(METHODS.filter((m) => m.slow).map((m) => m.name)).toEqual(['Rollback', 'Unenroll']);
    const xml = introspectionXml({ Version: '1', StateDirectory: '/x' });
    expect(xml).toContain('<arg name="settle_ms" type="u" direction="in"/>');
    expect(xml).toContain('Errors: org.autoharden1.Error.Usage, org.autoharden1.Error.AccessDenied, org.autoharden1.Error.UnitUnknown, org.autoharden1.Error.Failed, org.autoharden1.Error.Config, org.autoharden1.Error.Locked');
  });
});

describe('requests are validated once, by their use case', () => {
  it('rollback: the unit first, then exactly one of all/option, then a known option, then the settle range', () => {
    expect(refusal(() => ROLLBACK.parse({ unit: 'a b', all: false })).message).toMatch(/^invalid unit name "a b"/);
    for (const r of [{ unit: 'x', all: false }, { unit: 'x', all: true, option: 'ProtectSystem' }]) {
      expect(refusal(() => ROLLBACK.parse(r))).toMatchObject({ code: 'Usage', message: 'rollback needs exactly one of --all or --option NAME' });
    }
    expect(refusal(() => ROLLBACK.parse({ unit: 'x', option: 'Nope"\n' })).message).toBe('unknown option "Nope\\"\\n"; see autoharden journal x.service');
    expect(refusal(() => ROLLBACK.parse({ unit: 'x', all: true, settleMs: 5 })).message).toMatch(/^settle must be from \d+ to \d+ ms$/);
    expect(ROLLBACK.parse({ unit: 'x', option: 'ProtectSystem', settleMs: 0 })).toEqual({ unit: 'x.service', option: 'ProtectSystem', settleMs: 0 });
    // over the wire: "" is no option
    expect(ROLLBACK.parse(ROLLBACK.dbus.fromWire('x', '', true, 900))).toEqual({ unit: 'x.service', all: true, settleMs: 900 });
  });

  it('unenroll: only keep or remove, only services; export: the format before the unit', () => {
    expect(refusal(() => UNENROLL.parse({ unit: 'a.service', mode: 'maybe' })).message).toBe('unenroll mode must be keep or remove, not "maybe"');
    expect(refusal(() => UNENROLL.parse({ unit: 'a.socket', mode: 'keep' })).code).toBe('Usage');
    expect(refusal(() => EXPORT.parse({ unit: 'a b', format: 'yaml' })).message).toMatch(/yaml/);
    expect(refusal(() => EXPORT.parse({ unit: 'a b', format: 'json' })).message).toMatch(/invalid unit name/);
    expect(STATUS.parse({ unit: '' })).toEqual({ unit: undefined });
    expect(JOURNAL.parse({ unit: 'nginx' })).toEqual({ unit: 'nginx.service' });
  });

  it('tune: parsers in flag order, then the contradictions; values come out parsed', () => {
    expect(refusal(() => TUNE.parse({ unit: 'x y', budget: 'nope', probes: ['bogus'] })).message).toMatch(/^invalid unit name/);
    expect(refusal(() => TUNE.parse({ unit: 'x', budget: 'nope' })).message).toMatch(/^bad budget "nope"/);
    expect(refusal(() => TUNE.parse({ unit: 'x', budget: '5%' })).message).toBe(ERR.BudgetNeedsWorkload.template);
    expect(refusal(() => TUNE.parse({ unit: 'x', localOnly: true, allowNet: ['10.0.0.0/8'] })).message).toBe(ERR.LocalOnlyContradicts.template);
    expect(refusal(() => TUNE.parse({ unit: 'x', allowNet: ['10.0.0.0/8\nExecStartPre=/bin/sh'] })).code).toBe('Usage');
    const r = TUNE.parse({ unit: 'x', allowNet: ['10.1.2.3/8'], workload: 'exec:true', budget: '5%', probes: ['tcp://127.0.0.1:80'] });
    expect(r).toMatchObject({ unit: 'x.service', allowNet: ['10.0.0.0/8'], budget: 0.05, probes: [{ kind: 'tcp' }], strategy: 'adaptive', persist: true });
  });
});

describe('one error table', () => {
  it('gives each code its exit status and D-Bus name, both ways', () => {
    expect(EXIT_CODES).toEqual({ Usage: 2, AccessDenied: 4, UnitUnknown: 6, Failed: 1, Config: 78, Locked: 75, ThresholdExceeded: 3 });
    expect(codeOfDBusErrorName(dbusErrorName('Locked'))).toBe('Locked');
    expect(codeOfDBusErrorName('org.autoharden1.Error.Nope')).toBeUndefined();
    expect(codeOfDBusErrorName('org.freedesktop.DBus.Error.Failed')).toBeUndefined();
  });

  it('maps errors the same at both edges: errno, systemd\'s NoSuchUnit, signals', () => {
    const eacces = Object.assign(new Error('open /x'), { code: 'EACCES' });
    expect(errorCodeOf(eacces)).toEqual({ code: 'AccessDenied', message: 'access denied: open /x' });
    expect(exitCodeOf(eacces)).toBe(4);
    expect(toDBusError(eacces).type).toBe('org.autoharden1.Error.AccessDenied');
    expect(exitCodeOf(Object.assign(new Error('gone'), { code: 'NoSuchUnit' }))).toBe(6);
    expect(exitCodeOf(new Interrupted('SIGTERM', 'stopped'))).toBe(143);
    expect(exitCodeOf('a string')).toBe(1);
    const e = new ERR.NotLoaded('x.service', 'not-found');
    expect(e).toMatchObject({ code: 'UnitUnknown', message: 'x.service is not loaded (LoadState=not-found)' });
    expect(toDBusError(e).text).toBe('x.service is not loaded (LoadState=not-found)');
  });
});

describe('DaemonApp and the server, built from the same descriptors', () => {
  let bus: PrivateBus;
  let server: ApiServer;
  let app: DaemonApp;
  const seen: unknown[][] = [];
  const served: Served = {
    enroll: async (spec) => {
      seen.push(['enroll', spec]);
      return ENROLL.parse(spec).unit;
    },
    status: (unit) => [{ unit: unit || 'all' } as never],
    journal: (unit) => {
      throw new ERR.NeverTuned(unit, '/var/lib/autoharden');
    },
    rollback: async (...wire) => {
      seen.push(['rollback', ...wire]);
      return { unit: wire[0], removed: ['PrivateTmp'], remaining: [], verdict: { ok: true, reason: 'fine' } as never };
    },
    unenroll: async (unit, mode) => ({ unit, mode }),
    export: (unit, format) => `${unit} ${format}\n`,
    guardPause: (unit, action) => ({ unit, action: action as 'pause' | 'resume', changed: true, enrolled: true }),
  };

  beforeAll(async () => {
    bus = await startPrivateBus();
    server = await ApiServer.start({ handlers: managerHandlers(served), version: '1', stateDirectory: '/x', address: bus.address, allowedUids: [process.getuid!()] });
    const client = (await ApiClient.connect({ address: bus.address }))!;
    app = new DaemonApp(client, new LocalApp('/x', () => {}));
  });

  afterAll(async () => {
    app?.close();
    server?.close();
    await bus?.stop();
  });

  it('sends each request as its method\'s arguments and decodes the answer', async () => {
    const spec = ENROLL.parse({ unit: 'nginx', probes: ['tcp://127.0.0.1:80'] });
    expect(await app.enroll(spec)).toBe('nginx.service');
    expect(JSON.parse(seen[0]![1] as string)).toEqual(spec);
    const r = await app.rollback(ROLLBACK.parse({ unit: 'x', option: 'ProtectSystem', settleMs: 900 }));
    expect(r.removed).toEqual(['PrivateTmp']);
    expect(seen[1]).toEqual(['rollback', 'x.service', 'ProtectSystem', false, 900]);
    expect(await app.status(STATUS.parse({}))).toEqual([{ unit: 'all' }]);
    expect(await app.unenroll(UNENROLL.parse({ unit: 'a', mode: 'remove' }))).toEqual({ unit: 'a.service', mode: 'remove' });
    expect(await app.export(EXPORT.parse({ unit: 'a', format: 'ansible' }))).toBe('a.service ansible\n');
  });

  it('brings the daemon\'s error back with its code and message', async () => {
    const e = await app.journal(JOURNAL.parse({ unit: 'a' })).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'UnitUnknown', message: 'autoharden has no journal for a.service in /var/lib/autoharden; it was never tuned' });
  });
});
