// Profiles (core/profile.ts): export --format profile built from a journal and what the running
// system said (core/exportProfile.ts), its round trip through parseProfile, and hostile profiles:
// a profile comes from another machine, so every way it can lie is refused in one line.
import { describe, expect, it } from 'vitest';
import { execStartOf } from '../../src/app/profileLive.js';
import { AutohardenError } from '../../src/core/errors.js';
import { renderExport } from '../../src/core/exportFormats.js';
import { buildProfile, type ProfileLive } from '../../src/core/exportProfile.js';
import { acceptedSet, recordSchema, type JournalRecord } from '../../src/core/journal.js';
import { platformFrom } from '../../src/core/platform.js';
import { MAX_PROFILE_BYTES, PROFILE_VERSION, knownOption, parseProfile, renderProfile, type Profile } from '../../src/core/profile.js';
import type { SafetyFacts } from '../../src/core/types.js';
import { ENV, PROBES, UNIT, exportJournal } from '../fixtures/export/journal.js';
import { thrown } from './expect-errors.js';

const FACTS: SafetyFacts = {
  usesInet: true, inetEndpoints: [], nonLoopbackListeners: ['0.0.0.0:80'], families: ['AF_INET'], peers: [], sessionEvidence: [], createdModes: [],
  listeners: [{ family: 'ipv4', proto: 'tcp', port: 80 }, { family: 'ipv6', proto: 'tcp', port: 80 }, { family: 'ipv4', proto: 'tcp', port: 80 }],
  writableDirs: ['/var/log/nginx', '/var/lib/evil\ndir'],
  uids: [0, 33, 33],
  capsNeeded: [{ cap: 'CAP_NET_BIND_SERVICE', why: 'listens on tcp/80\u001b[31m' }],
};
const LIVE: ProfileLive = {
  platform: platformFrom({ systemdVersion: 252, features: '+PAM +SECCOMP -BPF_FRAMEWORK', lsm: 'lockdown,capability,apparmor', kernelRelease: '6.1.0-28-amd64' }),
  execStart: [['/usr/sbin/nginx', '-g', 'daemon on; master_process on;']],
  facts: FACTS,
};

const profileOf = (records = exportJournal(), live: ProfileLive = LIVE) => buildProfile(UNIT, records, ENV, live);
/** A valid profile as JSON data, to break one field at a time. */
const data = (): Record<string, unknown> => JSON.parse(renderProfile(profileOf())) as Record<string, unknown>;
const refused = (json: string) => thrown(() => parseProfile(json, 'p.json'), AutohardenError);

describe('export --format profile', () => {
  it('holds the accepted set, the live platform, ExecStart, facts, probes and exposure, and round-trips', () => {
    const p = profileOf();
    expect(p.settings.map((s) => s.option)).toEqual(acceptedSet(exportJournal()).map((s) => s.option));
    expect(p.settings.find((s) => s.option === 'ProtectSystem')?.paths).toEqual(['/var/lib/nginx', '/var/log/nginx']);
    expect(p.source).toEqual({ host: ENV.host, autoharden: ENV.version, systemd: 252, kernel: ENV.kernelRelease, features: ['PAM', 'SECCOMP'], lsm: ['lockdown', 'capability', 'apparmor'] });
    expect(p.execStart).toEqual([['/usr/sbin/nginx', '-g', 'daemon on; master_process on;']]);
    expect(p.probes).toEqual(PROBES);
    expect(p.exposure).toEqual({ before: 9.6, after: 4.1 });
    expect(parseProfile(renderProfile(p))).toEqual(p);
    // renderExport gives the same text (the path the daemon and the CLI take)
    expect(parseProfile(renderExport(UNIT, exportJournal(), 'profile', ENV, LIVE))).toEqual(p);
  });

  it('writes the facts bounded and plain: ports once each, no directory with a control character', () => {
    const { facts } = profileOf();
    expect(facts.listens).toEqual(['tcp/80', 'tcp6/80']);
    expect(facts.writes).toEqual(['/var/log/nginx']);
    expect(facts.uids).toEqual([0, 33]);
    expect(facts.capsNeeded).toEqual([{ cap: 'CAP_NET_BIND_SERVICE', why: 'listens on tcp/80 [31m' }]);
    expect(facts.unobserved).toBeUndefined();
  });

  it("says why the facts are empty, and takes the journal's platform when systemd could not be read", () => {
    const p = profileOf(exportJournal(), { unobserved: 'nginx.service was not running when exported (ActiveState=inactive)' });
    expect(p.facts).toEqual({ listens: [], writes: [], uids: [], unobserved: 'nginx.service was not running when exported (ActiveState=inactive)' });
    expect(p.source.systemd).toBe(257); // the fixture's tune-begin fingerprint
    expect(p.execStart).toEqual([]);
    const e = thrown(() => profileOf(exportJournal({ platform: false }), { unobserved: 'no bus' }), AutohardenError);
    expect(e.code).toBe('Failed');
    expect(e.message).toMatch(/cannot tell which systemd .*no bus/);
  });

  it('carries the declarations the last tune recorded; a journal without them reads as none declared', () => {
    const records = exportJournal();
    expect(profileOf(records).declarations).toEqual({ allowNet: [], localOnly: false, confineSessions: false });
    const declared = { allowNet: ['10.0.0.0/8'], localOnly: false, confineSessions: true };
    const withDecl = records.map((r) => (r.kind === 'tune-begin' ? recordSchema.parse({ ...r, declarations: declared }) : r));
    expect(profileOf(withDecl).declarations).toEqual(declared);
  });

  it('reads an old tune-begin without declarations, and a garbled one as absent', () => {
    const begin = exportJournal()[0]!;
    const old = JSON.parse(JSON.stringify(begin)) as Record<string, unknown>;
    delete old.declarations;
    expect((recordSchema.parse(old) as { declarations?: unknown }).declarations).toBeUndefined();
    const garbled = recordSchema.parse({ ...begin, declarations: { allowNet: 'everyone', localOnly: 1 } }) as JournalRecord & { declarations?: unknown };
    expect(garbled.kind).toBe('tune-begin');
    expect(garbled.declarations).toBeUndefined();
  });

  it('refuses a journal setting no drop-in may hold, as the other formats do', () => {
    const records = exportJournal().map((r) =>
      r.kind === 'trial-end' && r.trial === 3 ? { ...r, settings: [{ ...r.settings[0]!, lines: ['PrivateTmp=yes', 'ExecStartPre=/bin/sh -c id'] }] } : r);
    const e = thrown(() => profileOf(records), AutohardenError);
    expect(e.code).toBe('Config');
    expect(e.message).toMatch(/ExecStartPre/);
  });

  it('reads ExecStart= argv from the raw property, the path first when argv[0] differs', () => {
    const props = { ExecStart: { signature: 'a(sasbttttuii)', value: [['/usr/sbin/nginx', ['/usr/sbin/nginx', '-g', 'daemon on;'], false, 0n, 0n, 0n, 0n, 0, 0, 0], ['/bin/foo', ['foo-renamed', '-x'], false]] } };
    expect(execStartOf(props)).toEqual([['/usr/sbin/nginx', '-g', 'daemon on;'], ['/bin/foo', '-x']]);
    expect(execStartOf({})).toBeUndefined();
    expect(execStartOf({ ExecStart: { signature: 'a(sasbttttuii)', value: [[42, 'x'], 'junk'] } })).toEqual([]);
  });
});

describe('parseProfile refuses a hostile profile in one line', () => {
  const oneLine = (e: AutohardenError) => {
    expect(e.code).toBe('Config');
    expect(e.message).not.toMatch(/\n/);
    expect(e.message.startsWith('p.json: ')).toBe(true);
    return e.message;
  };
  const withSetting = (s: Record<string, unknown>, extra: Record<string, unknown>[] = []) => JSON.stringify({ ...data(), settings: [s, ...extra] });

  it('a control character in any text', () => {
    const d = data();
    (d.source as Record<string, unknown>).host = 'web1\u001b]0;owned\u0007';
    expect(oneLine(refused(JSON.stringify(d)))).toMatch(/source\.host: control characters/);
    const d2 = data();
    d2.probes = ['exec:curl localhost\nExecStartPre=/bin/sh'];
    expect(oneLine(refused(JSON.stringify(d2)))).toMatch(/probes\.0: control characters/);
  });

  it('a line with a directive autoharden never writes (ExecStartPre=)', () => {
    const msg = oneLine(refused(withSetting({ option: 'NoNewPrivileges', value: 'yes', lines: ['NoNewPrivileges=yes', 'ExecStartPre=/bin/sh -c "id > /tmp/owned"'] })));
    expect(msg).toMatch(/settings\.0: .*ExecStartPre is not a key autoharden writes/);
  });

  it("a directive autoharden writes, but another option's (a weakening smuggled in)", () => {
    const msg = oneLine(refused(withSetting({ option: 'NoNewPrivileges', value: 'yes', lines: ['NoNewPrivileges=yes', 'ReadWritePaths=/'] })));
    expect(msg).toMatch(/ReadWritePaths is not a directive of NoNewPrivileges/);
    // the option that learns paths may carry them
    expect(() => parseProfile(withSetting({ option: 'ProtectSystem', value: 'strict; ReadWritePaths=-/srv', lines: ['ProtectSystem=strict', 'ReadWritePaths=-/srv'], rung: 'strict', paths: ['/srv'] }))).not.toThrow();
  });

  it('a line systemd would read as more than its value, an option twice', () => {
    expect(oneLine(refused(withSetting({ option: 'ProtectSystem', value: 'strict', lines: ['ProtectSystem=strict\\'] })))).toMatch(/a quote/);
    expect(oneLine(refused(withSetting({ option: 'ProtectSystem', value: 'strict', lines: ['ProtectSystem=strict %n'] })))).toMatch(/%/);
    const nnp = { option: 'NoNewPrivileges', value: 'yes', lines: ['NoNewPrivileges=yes'] };
    expect(oneLine(refused(withSetting(nnp, [nnp])))).toMatch(/settings\.1: NoNewPrivileges appears twice/);
  });

  it("carries an option it does not know (a newer autoharden's): apply skips it, merge leaves it out", () => {
    const newer = { option: 'ProtectEverything', value: 'yes', lines: ['ProtectEverything=yes'] };
    expect(parseProfile(withSetting(newer)).settings).toEqual([newer]);
    expect(knownOption('ProtectEverything')).toBe(false);
    expect(knownOption('ExecStartPre')).toBe(false);
    expect(knownOption('ProtectSystem')).toBe(true);
    expect(oneLine(refused(withSetting({ ...newer, lines: ['[Service]'] })))).toMatch(/not Key=value/);
  });

  it('an unknown field, a wrong type, a unit that is not a service', () => {
    expect(oneLine(refused(JSON.stringify({ ...data(), extra: 1 })))).toMatch(/\(top\)|extra|Unrecognized/);
    expect(oneLine(refused(JSON.stringify({ ...data(), probes: 'http://x/' })))).toMatch(/probes/);
    expect(oneLine(refused(JSON.stringify({ ...data(), unit: 'sshd.socket' })))).toMatch(/unit: not a service unit name/);
  });

  it('oversized, not JSON, not a profile at all, another version', () => {
    expect(oneLine(refused(' '.repeat(MAX_PROFILE_BYTES + 1)))).toMatch(/larger than/);
    expect(oneLine(refused('{"format": "autoharden-profile",'))).toMatch(/not JSON/);
    expect(oneLine(refused(JSON.stringify({ version: 1, entries: [] })))).toMatch(/not an autoharden profile/);
    expect(oneLine(refused(JSON.stringify({ ...data(), version: PROFILE_VERSION + 1 })))).toBe(`p.json: profile version ${PROFILE_VERSION + 1} is not supported (this autoharden reads version ${PROFILE_VERSION})`);
    expect(oneLine(refused(JSON.stringify({ ...data(), version: 'x'.repeat(5000) })))).toMatch(/^p\.json: profile version "\\"x+\.\.\." is not supported/);
  });

  it('accepts what it renders, and renders only what it accepts', () => {
    const p = profileOf();
    expect(parseProfile(renderProfile(p))).toEqual(p);
    const bad = { ...p, settings: [{ option: 'NoNewPrivileges', value: 'yes', lines: ['ExecStartPre=/bin/id'] }] } as Profile;
    expect(thrown(() => renderProfile(bad), AutohardenError).code).toBe('Config');
  });
});

describe('export --format profile where the use case runs', () => {
  const records = exportJournal();
  const req = { unit: UNIT, format: 'profile' as const };
  const systemd = (activeState: string) => ({
    version: async () => 256,
    features: async () => '+SECCOMP +APPARMOR',
    servicePropertyNames: async () => ['ExecStart'],
    unitInfo: async () => ({ loadState: 'loaded', activeState, subState: 'dead', fragmentPath: '', dropInPaths: [], needDaemonReload: false, type: 'simple' }),
    rawProperties: async () => ({ ExecStart: { signature: 'a(sasbttttuii)', value: [['/usr/sbin/nginx', ['/usr/sbin/nginx', '-c', '/etc/nginx/nginx.conf'], false]] } }),
    snapshot: async () => { throw new Error('not reached'); },
    serviceProperties: async () => ({}),
    reload: async () => {},
    resetFailed: async () => {},
    restart: async () => 'done',
  });

  it("reads systemd's version and features and ExecStart on the connection; a stopped unit is not observed", async () => {
    const { exportWithLive } = await import('../../src/app/export.js');
    const p = parseProfile(await exportWithLive(req, records, systemd('inactive')));
    expect(p.source.systemd).toBe(256);
    expect(p.source.features).toEqual(['APPARMOR', 'SECCOMP']);
    expect(p.execStart).toEqual([['/usr/sbin/nginx', '-c', '/etc/nginx/nginx.conf']]);
    expect(p.facts.unobserved).toBe('nginx.service was not running when exported (ActiveState=inactive)');
  });

  it('without systemd: the journal platform, and why nothing was read', async () => {
    const { exportWithLive } = await import('../../src/app/export.js');
    const p = parseProfile(await exportWithLive(req, records, undefined, 'systemd could not be reached: ENOENT'));
    expect(p.source.systemd).toBe(257);
    expect(p.facts.unobserved).toBe('systemd could not be reached: ENOENT');
    // other formats are what they always were
    expect(await exportWithLive({ unit: UNIT, format: 'json' }, records, undefined)).toBe(`${JSON.stringify(acceptedSet(records), null, 2)}\n`);
  });
});
