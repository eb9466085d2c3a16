// apply's rebuild rules (core/applyProfile.ts): a profile is another machine's word, so only what
// this host's catalog renders from option and rung is ever tried; the rest is skipped with why.
import { describe, expect, it } from 'vitest';
import { rebuildProfile, settingResults, type ProfileSetting, type RebuildInput } from '../../src/core/applyProfile.js';
import { CATALOG, optionByName } from '../../src/core/catalog.js';
import { toSetting } from '../../src/core/plan.js';
import { NO_DECLARATIONS } from '../../src/core/policy.js';
import type { SafetyFacts } from '../../src/core/types.js';
import { DEBIAN12_PLATFORM } from '../fakes/platforms.js';

const FACTS: SafetyFacts = { usesInet: false, inetEndpoints: [], nonLoopbackListeners: [], families: [], peers: [], sessionEvidence: [], createdModes: [], writableDirs: [] };

const input = (over: Partial<RebuildInput> = {}): RebuildInput => ({
  catalog: CATALOG, platform: DEBIAN12_PLATFORM, eff: {}, accepted: [], rolledBack: new Set(), rejected: new Set(),
  facts: FACTS, declarations: NO_DECLARATIONS, writableScope: { names: ['sample'], directories: ['/var/lib/sample'] }, ...over,
});

/** A profile setting as this autoharden writes the rung. */
const good = (option: string, value: string): ProfileSetting => {
  const spec = optionByName(option)!;
  return toSetting(spec, spec.ladder.find((r) => r.value === value)!);
};

const one = (ps: ProfileSetting, over?: Partial<RebuildInput>) => rebuildProfile([ps], input(over))[0]!;

describe('rebuilding a profile setting on this host', () => {
  it('takes a setting whose lines are what this host renders', () => {
    const r = one(good('ProtectHome', 'yes'));
    expect(r.status).toBe('try');
    expect(r.status === 'try' && r.setting.lines).toEqual(['ProtectHome=yes']);
  });

  it('refuses a line with another directive, even one autoharden writes', () => {
    const r = one({ option: 'ProtectHome', value: 'yes', lines: ['ProtectHome=yes', 'ProtectSystem=no'] });
    expect(r).toMatchObject({ status: 'skipped' });
    expect(r.status === 'skipped' && r.reason).toMatch(/not what this host writes for ProtectHome=yes/);
  });

  it('refuses a line autoharden never writes', () => {
    const r = one({ option: 'ProtectHome', value: 'yes', lines: ['ExecStartPre=/bin/sh -c id'] });
    expect(r.status === 'skipped' && r.reason).toMatch(/ExecStartPre is not a key autoharden writes/);
  });

  it('refuses a weakening value dressed as a known option', () => {
    const r = one({ option: 'ProtectSystem', value: 'no', lines: ['ProtectSystem=no'] });
    expect(r.status === 'skipped' && r.reason).toMatch(/no is not a value this autoharden knows for ProtectSystem/);
  });

  it('skips an option this autoharden does not know', () => {
    const r = one({ option: 'ProtectEverything', value: 'yes', lines: ['ProtectSystem=strict'] });
    expect(r.status === 'skipped' && r.reason).toMatch(/ProtectEverything is not an option this autoharden knows/);
  });

  it('skips a value this systemd lacks, naming the version it needs', () => {
    const ps = good('ProtectControlGroups', 'strict');
    const r = one(ps);
    expect(r.status).toBe('skipped');
    expect(r.status === 'skipped' && r.reason).toMatch(/needs systemd 257\+ \(this is 252\)/);
    // its weaker value is known here: only the profile's value counts, nothing weaker is tried
    expect(one(good('ProtectControlGroups', 'yes')).status).toBe('try');
  });

  it('skips an option claiming a systemd that does not exist yet', () => {
    const spec = { ...optionByName('LockPersonality')!, minSystemd: 999 };
    const r = rebuildProfile([good('LockPersonality', 'yes')], input({ catalog: [spec] }))[0]!;
    expect(r.status === 'skipped' && r.reason).toMatch(/999/);
  });

  it('keeps learned paths only inside the unit\'s own directories here', () => {
    const inside = { option: 'ProtectSystem', value: 'strict; ReadWritePaths=-/var/lib/sample', rung: 'strict', paths: ['/var/lib/sample'], lines: ['ProtectSystem=strict', 'ReadWritePaths=-/var/lib/sample'] };
    expect(one(inside).status).toBe('try');
    const outside = { ...inside, value: 'strict; ReadWritePaths=-/etc', paths: ['/etc'], lines: ['ProtectSystem=strict', 'ReadWritePaths=-/etc'] };
    expect(one(outside)).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/\/etc is outside this unit's own directories/) });
    const dots = { ...inside, value: 'strict; ReadWritePaths=-/var/lib/sample/../../../etc', paths: ['/var/lib/sample/../../../etc'], lines: ['ProtectSystem=strict', 'ReadWritePaths=-/var/lib/sample/../../../etc'] };
    expect(one(dots).status).toBe('skipped');
    // paths under a rung that never learns them
    expect(one({ ...inside, rung: 'full', value: 'full; ReadWritePaths=-/var/lib/sample', lines: ['ProtectSystem=full', 'ReadWritePaths=-/var/lib/sample'] }).status).toBe('skipped');
  });

  it('reports a setting already in force here as applied, with nothing to try', () => {
    expect(one(good('NoNewPrivileges', 'yes'), { eff: { NoNewPrivileges: true } })).toMatchObject({ status: 'applied' });
    // the vendor's strict holds: the profile's learned paths would only loosen it
    const strict = { option: 'ProtectSystem', value: 'strict; ReadWritePaths=-/var/lib/sample', rung: 'strict', paths: ['/var/lib/sample'], lines: ['ProtectSystem=strict', 'ReadWritePaths=-/var/lib/sample'] };
    expect(one(strict, { eff: { ProtectSystem: 'strict' } })).toMatchObject({ status: 'applied' });
  });

  it('never limits reach here on the profile\'s word: the safety policy uses this host\'s facts', () => {
    const facts = { ...FACTS, usesInet: true, inetEndpoints: ['0.0.0.0:80'], nonLoopbackListeners: ['0.0.0.0:80'], families: ['AF_INET'] };
    const r = one(good('PrivateNetwork', 'yes'), { facts });
    expect(r).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/^restricts-reach: /) });
    const ip = { option: 'IPAddressDeny', value: 'any, allow localhost', lines: ['IPAddressDeny=any', 'IPAddressAllow=localhost'] };
    expect(one(ip, { facts })).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/--allow-net|--local-only/) });
  });

  it('asks before confining login sessions the unit spawns here', () => {
    const facts = { ...FACTS, sessionEvidence: ['sshd forks shells'] };
    expect(one(good('NoNewPrivileges', 'yes'), { facts })).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/--confine-sessions/) });
    expect(one(good('NoNewPrivileges', 'yes'), { facts, declarations: { ...NO_DECLARATIONS, confineSessions: true } }).status).toBe('try');
  });

  it('an option the profile holds twice is taken once', () => {
    const r = rebuildProfile([good('PrivateTmp', 'yes'), good('PrivateTmp', 'yes')], input());
    expect(r.map((x) => x.status)).toEqual(['try', 'skipped']);
  });

  it('does not replace what an earlier tune accepted here with another value', () => {
    const accepted = [good('ProtectSystem', 'full')];
    expect(one(good('ProtectSystem', 'strict'), { accepted })).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/rollback --option ProtectSystem/) });
    expect(one(good('ProtectSystem', 'full'), { accepted }).status).toBe('applied');
  });

  it('rebuilds a minimised bounding set from its items, and refuses other lines for them', () => {
    const keep = ['CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_SETGID'];
    const spec = optionByName('CapabilityBoundingSet')!;
    const step = spec.minimise!.step({}, toSetting(spec, spec.ladder[1]!), spec.minimise!.items({}, toSetting(spec, spec.ladder[1]!)).filter((c) => !keep.includes(c)));
    expect(step.items?.sort()).toEqual([...keep].sort());
    const r = one(step);
    expect(r.status).toBe('try');
    expect(one({ ...step, lines: ['CapabilityBoundingSet=~CAP_SYS_MODULE'] }).status).toBe('skipped');
  });

  it('says per setting what the trials made of it', () => {
    const settings = [good('PrivateTmp', 'yes'), good('LockPersonality', 'yes'), { option: 'Nope', value: 'x', lines: ['PrivateTmp=yes'] }];
    const rebuilt = rebuildProfile(settings, input());
    const out = settingResults(settings, rebuilt, { accepted: [good('PrivateTmp', 'yes')], rejected: new Map([['LockPersonality', 'exit status 226']]) });
    expect(out.map((o) => [o.option, o.status])).toEqual([['PrivateTmp', 'applied'], ['LockPersonality', 'rejected'], ['Nope', 'skipped']]);
    expect(out[1]!.reason).toBe('exit status 226');
  });
});
