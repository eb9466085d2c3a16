// The values systemd 257/258 added (PrivateUsers=identity/full, PrivateTmp=disconnected,
// ProtectControlGroups=strict, ProtectHostname=private, PrivatePIDs=yes): offered only where the
// running systemd has the property that reports them (and the version that parses them), judged
// in force from what each version reads back (I12 facts §1), never by a distribution's name.
import { describe, expect, it } from 'vitest';
import { convertValue } from '../../src/adapters/systemd/values.js';
import { buildCandidates } from '../../src/core/candidates.js';
import { CATALOG, optionByName, renderRung, strongerRungs, unusableReason, usableOptions } from '../../src/core/catalog.js';
import { PRIVATE_PIDS_STOP, exValue } from '../../src/core/namespaceValues.js';
import { platformFrom, type Platform } from '../../src/core/platform.js';
import { NO_DECLARATIONS, applySafetyPolicy } from '../../src/core/policy.js';
import { inForce } from '../../src/core/setting.js';
import type { EffectiveSettings, OptionSpec, SafetyFacts } from '../../src/core/types.js';
import { DEBIAN13_PLATFORM, FEATURES_252, FEATURES_257, FEATURES_262 } from '../fakes/platforms.js';

const NEW = ['PrivateUsers', 'PrivateTmp', 'ProtectControlGroups', 'ProtectHostname', 'PrivatePIDs'];

// Service property names, cut down to those that matter here (systemd --dump-bus-properties of
// each version, I12 facts §1: 257 adds the Ex properties and PrivatePIDs, 262 ProtectHostnameEx).
const PROPS_252 = ['Type', 'User', 'PrivateUsers', 'PrivateTmp', 'ProtectControlGroups', 'ProtectHostname', 'PrivateIPC'];
const PROPS_257 = [...PROPS_252, 'PrivateUsersEx', 'PrivateTmpEx', 'ProtectControlGroupsEx', 'PrivatePIDs', 'BindLogSockets'];
const PROPS_262 = [...PROPS_257, 'ProtectHostnameEx', 'PrivateBPF', 'DelegateNamespaces'];

const P252 = platformFrom({ systemdVersion: 252, features: FEATURES_252, kernelRelease: '6.1.0-28-amd64', serviceProperties: PROPS_252 });
const P257 = platformFrom({ systemdVersion: 257, features: FEATURES_257, kernelRelease: '6.12.48+deb13-amd64', serviceProperties: PROPS_257 });
const P262 = platformFrom({ systemdVersion: 262, features: FEATURES_262, kernelRelease: '6.18.0', serviceProperties: PROPS_262 });

const spec = (name: string): OptionSpec => optionByName(name)!;
const ladderOn = (p: Platform) =>
  Object.fromEntries(usableOptions(CATALOG, p).filter((o) => NEW.includes(o.name)).map((o) => [o.name, o.ladder.map((r) => r.value)]));
const usable = (name: string, p: Platform) => usableOptions(CATALOG, p).find((o) => o.name === name)!;
/** Values of the rungs in force, for the ladder usable on `p`. */
const held = (name: string, p: Platform, eff: EffectiveSettings) => usable(name, p).ladder.filter((r) => r.inForce(eff)).map((r) => r.value);

const FACTS: SafetyFacts = { usesInet: true, inetEndpoints: [], nonLoopbackListeners: [], families: [], peers: [], sessionEvidence: [], createdModes: [] };

// What each version reads back for the unit's defaults (nothing set): unknown names are null.
const EFF_252: EffectiveSettings = {
  Type: 'simple', User: '', PrivateUsers: false, PrivateUsersEx: null, PrivateTmp: false, PrivateTmpEx: null,
  ProtectControlGroups: false, ProtectControlGroupsEx: null, ProtectHostname: false, ProtectHostnameEx: null, PrivatePIDs: null,
};
const EFF_257: EffectiveSettings = {
  ...EFF_252, PrivateUsersEx: 'no', PrivateTmpEx: 'no', ProtectControlGroupsEx: 'no', PrivatePIDs: 'no',
};
const EFF_262: EffectiveSettings = { ...EFF_257, ProtectHostnameEx: ['no', ''] };

describe('which values are offered, from the running systemd', () => {
  it('252: only the booleans, and no PrivatePIDs', () => {
    expect(ladderOn(P252)).toEqual({
      PrivateTmp: ['yes'], ProtectControlGroups: ['yes'], ProtectHostname: ['yes'], PrivateUsers: ['yes'],
    });
    expect(unusableReason(spec('PrivatePIDs'), P252)).toBe('needs systemd 257+ (this is 252)');
    for (const n of ['PrivateUsers', 'PrivateTmp', 'ProtectControlGroups', 'ProtectHostname']) expect(unusableReason(spec(n), P252), n).toBeUndefined();
  });

  it('257: identity, disconnected, strict and PrivatePIDs; not full nor ProtectHostname=private', () => {
    expect(ladderOn(P257)).toEqual({
      PrivateTmp: ['disconnected', 'yes'], ProtectControlGroups: ['strict', 'yes'], ProtectHostname: ['yes'],
      PrivateUsers: ['yes', 'identity'], PrivatePIDs: ['yes'],
    });
    expect(unusableReason(spec('PrivatePIDs'), P257)).toBeUndefined();
  });

  it('262: full and ProtectHostname=private too', () => {
    expect(ladderOn(P262)).toEqual({
      PrivateTmp: ['disconnected', 'yes'], ProtectControlGroups: ['strict', 'yes'], ProtectHostname: ['yes', 'private'],
      PrivateUsers: ['yes', 'identity', 'full'], PrivatePIDs: ['yes'],
    });
  });

  it('needs both the property and the version: neither alone offers a value', () => {
    // a 258 whose Service interface was read and lacks PrivateUsersEx: no identity, no full
    const noEx = platformFrom({ systemdVersion: 258, serviceProperties: PROPS_252 });
    expect(ladderOn(noEx).PrivateUsers).toEqual(['yes']);
    expect(ladderOn(noEx).PrivatePIDs).toBeUndefined();
    expect(unusableReason(spec('PrivatePIDs'), noEx)).toBe('systemd 258 has no Service property PrivatePIDs');
    // the property on a 257: full still needs 258 (257 ignores `PrivateUsers=full`)
    const early = platformFrom({ systemdVersion: 257, serviceProperties: PROPS_262 });
    expect(ladderOn(early).PrivateUsers).toEqual(['yes', 'identity']);
    expect(ladderOn(early).ProtectHostname).toEqual(['yes']);
    // 257 whose properties were not read: only what every version parses
    expect(ladderOn(DEBIAN13_PLATFORM)).toEqual({
      PrivateTmp: ['yes'], ProtectControlGroups: ['yes'], ProtectHostname: ['yes'], PrivateUsers: ['yes'],
    });
    expect(unusableReason(spec('PrivatePIDs'), DEBIAN13_PLATFORM)).toMatch(/cannot tell whether systemd 257 knows PrivatePIDs/);
  });

  it('reads every property it judges by', () => {
    expect(spec('PrivateUsers').properties).toEqual(['PrivateUsers', 'PrivateUsersEx']);
    expect(spec('PrivateTmp').properties).toEqual(['PrivateTmp', 'PrivateTmpEx']);
    expect(spec('ProtectControlGroups').properties).toEqual(['ProtectControlGroups', 'ProtectControlGroupsEx']);
    expect(spec('ProtectHostname').properties).toEqual(['ProtectHostname', 'ProtectHostnameEx']);
    expect(spec('PrivatePIDs').properties).toEqual(['PrivatePIDs', 'Type']);
    expect(spec('PrivatePIDs').weight).toBe(0); // analyze-security has no row for it
    expect(spec('PrivatePIDs').exitStatuses).toEqual([226]);
  });
});

describe('in force, from what each version reads back', () => {
  it('252: the boolean stands for the old value', () => {
    expect(held('PrivateUsers', P252, { ...EFF_252, PrivateUsers: true })).toEqual(['yes']);
    expect(held('PrivateTmp', P252, { ...EFF_252, PrivateTmp: true })).toEqual(['yes']);
    expect(held('ProtectControlGroups', P252, { ...EFF_252, ProtectControlGroups: true })).toEqual(['yes']);
    expect(held('ProtectHostname', P252, { ...EFF_252, ProtectHostname: true })).toEqual(['yes']);
    for (const n of ['PrivateUsers', 'PrivateTmp', 'ProtectControlGroups', 'ProtectHostname']) expect(held(n, P252, EFF_252), n).toEqual([]);
  });

  it('257: the Ex property decides, the boolean is true for every value', () => {
    const on = (key: string, ex: string) => ({ ...EFF_257, [key]: true, [`${key}Ex`]: ex });
    expect(held('PrivateTmp', P257, on('PrivateTmp', 'connected'))).toEqual(['yes']);
    expect(held('PrivateTmp', P257, on('PrivateTmp', 'disconnected'))).toEqual(['disconnected', 'yes']);
    expect(held('ProtectControlGroups', P257, on('ProtectControlGroups', 'yes'))).toEqual(['yes']);
    expect(held('ProtectControlGroups', P257, on('ProtectControlGroups', 'strict'))).toEqual(['strict', 'yes']);
    // private is a writable cgroupfs: neither strict nor yes
    expect(held('ProtectControlGroups', P257, on('ProtectControlGroups', 'private'))).toEqual([]);
    // PrivateUsers=yes reads back as "self": the strongest
    expect(held('PrivateUsers', P257, on('PrivateUsers', 'self'))).toEqual(['yes', 'identity']);
    expect(held('PrivateUsers', P257, on('PrivateUsers', 'identity'))).toEqual(['identity']);
    // the Ex property wins over a boolean that contradicts it
    expect(held('PrivateTmp', P257, { ...EFF_257, PrivateTmp: true, PrivateTmpEx: 'no' })).toEqual([]);
    expect(held('PrivatePIDs', P257, { ...EFF_257, PrivatePIDs: 'yes' })).toEqual(['yes']);
    expect(held('PrivatePIDs', P257, EFF_257)).toEqual([]);
    expect(held('PrivatePIDs', P257, { ...EFF_257, PrivatePIDs: true as unknown as string })).toEqual([]); // (s), not b
  });

  it('262: full is the weakest user mapping; ProtectHostnameEx is a (value, hostname) struct', () => {
    const users = (ex: string) => held('PrivateUsers', P262, { ...EFF_262, PrivateUsers: true, PrivateUsersEx: ex });
    expect(users('self')).toEqual(['yes', 'identity', 'full']);
    expect(users('identity')).toEqual(['identity', 'full']);
    expect(users('full')).toEqual(['full']);
    expect(users('managed')).toEqual([]); // 260's dynamic range: not on this ladder
    const host = (v: [string, string]) => held('ProtectHostname', P262, { ...EFF_262, ProtectHostname: true, ProtectHostnameEx: v });
    expect(host(['yes', ''])).toEqual(['yes', 'private']);
    expect(host(['yes', 'web1'])).toEqual(['yes', 'private']);
    expect(host(['private', ''])).toEqual(['private']);
    expect(host(['no', ''])).toEqual([]);
  });

  it('the adapter hands (ss) out as its fields', () => {
    const v = convertValue('ProtectHostnameEx', '(ss)', ['private', 'web1'], { capLastCap: 40 });
    expect(v).toEqual(['private', 'web1']);
    expect(exValue({ ProtectHostnameEx: v }, 'ProtectHostnameEx', true)).toBe('private');
    expect(exValue({ ProtectHostnameEx: v }, 'ProtectHostnameEx')).toBeUndefined(); // not a string property
  });

  it('never takes an odd value for a value in force', () => {
    for (const odd of [42, '', 'SELF', 'yes ', ['self'], [], { allow: true, items: ['self'] }, null]) {
      const eff = { ...EFF_257, PrivateUsersEx: odd as never, PrivateTmpEx: odd as never, ProtectControlGroupsEx: odd as never };
      // a non-string Ex falls back to the boolean, which is false here; a wrong string is no value
      for (const n of ['PrivateUsers', 'PrivateTmp', 'ProtectControlGroups']) expect(held(n, P257, eff), `${n} ${JSON.stringify(odd)}`).toEqual([]);
    }
    for (const odd of [[7, 'x'], ['yes'], ['yes', 'a', 'b'], 'yes', { allow: true, items: ['yes', ''] }]) {
      expect(held('ProtectHostname', P262, { ...EFF_262, ProtectHostnameEx: odd as never }), JSON.stringify(odd)).toEqual([]);
    }
  });

  it('judges an accepted setting by the same read-back', () => {
    const s = { option: 'PrivateTmp', value: 'disconnected', lines: ['PrivateTmp=disconnected'] };
    expect(inForce(s, { ...EFF_257, PrivateTmp: true, PrivateTmpEx: 'disconnected' })).toBe(true);
    expect(inForce(s, { ...EFF_257, PrivateTmp: true, PrivateTmpEx: 'connected' })).toBe(false);
    // written on a 252 it would be ignored, and 252's true cannot show it
    expect(inForce(s, { ...EFF_252, PrivateTmp: true })).toBe(false);
  });
});

describe('lines written', () => {
  const render = (name: string, value: string, p: Platform, eff: EffectiveSettings) => {
    const o = usable(name, p);
    return renderRung(o, o.ladder.find((r) => r.value === value)!, eff);
  };

  it('writes the value over defaults, and the spelling 252 parses for yes', () => {
    expect(render('PrivateUsers', 'yes', P252, EFF_252)).toEqual(['PrivateUsers=yes']);
    expect(render('PrivateUsers', 'identity', P257, EFF_257)).toEqual(['PrivateUsers=identity']);
    expect(render('PrivateUsers', 'full', P262, EFF_262)).toEqual(['PrivateUsers=full']);
    expect(render('PrivateTmp', 'disconnected', P257, EFF_257)).toEqual(['PrivateTmp=disconnected']);
    expect(render('ProtectControlGroups', 'strict', P257, EFF_257)).toEqual(['ProtectControlGroups=strict']);
    expect(render('ProtectHostname', 'private', P262, EFF_262)).toEqual(['ProtectHostname=private']);
    expect(render('PrivatePIDs', 'yes', P257, EFF_257)).toEqual(['PrivatePIDs=yes']);
  });

  it('tightens a weaker vendor value and leaves the stronger one', () => {
    const tmp = { ...EFF_257, PrivateTmp: true, PrivateTmpEx: 'connected' };
    expect(strongerRungs(usable('PrivateTmp', P257), tmp).map((r) => r.value)).toEqual(['disconnected']);
    expect(render('PrivateTmp', 'disconnected', P257, tmp)).toEqual(['PrivateTmp=disconnected']);
    expect(render('PrivateTmp', 'yes', P257, { ...tmp, PrivateTmpEx: 'disconnected' })).toBeNull();
    const full = { ...EFF_262, PrivateUsers: true, PrivateUsersEx: 'full' };
    expect(strongerRungs(usable('PrivateUsers', P262), full).map((r) => r.value)).toEqual(['yes', 'identity']);
  });

  it('writes nothing over a value it cannot order, and only strict over a vendor private cgroupfs', () => {
    const managed = { ...EFF_262, PrivateUsers: true, PrivateUsersEx: 'managed' };
    for (const r of usable('PrivateUsers', P262).ladder) expect(render('PrivateUsers', r.value, P262, managed), r.value).toBeNull();
    const priv = { ...EFF_257, ProtectControlGroups: true, ProtectControlGroupsEx: 'private' };
    expect(render('ProtectControlGroups', 'strict', P257, priv)).toEqual(['ProtectControlGroups=strict']);
    expect(render('ProtectControlGroups', 'yes', P257, priv)).toBeNull();
  });
});

describe('PrivatePIDs and Type=forking', () => {
  const candidatesFor = (eff: EffectiveSettings) =>
    buildCandidates({
      catalog: CATALOG, platform: P257, eff, accepted: [], rolledBack: new Set(), rejected: new Set(), facts: FACTS,
      declarations: NO_DECLARATIONS,
    });

  it('skips a forking service with the reason systemd gives', () => {
    const { candidates, skipped } = candidatesFor({ ...EFF_257, Type: 'forking' });
    expect(candidates.map((c) => c.spec.name)).not.toContain('PrivatePIDs');
    const skip = skipped.find((s) => s.option === 'PrivatePIDs');
    expect(skip?.reason).toMatch(/Type=forking/);
    expect(skip?.reason).toContain('does not support PrivatePIDs=yes');
    // the other new values are still tried on it
    expect(candidates.map((c) => c.spec.name)).toEqual(expect.arrayContaining(['PrivateTmp', 'ProtectControlGroups', 'PrivateUsers']));
  });

  it('does not try it on the other types either: a trial cannot see that a stop loses its SIGTERM', () => {
    for (const type of ['simple', 'exec', 'notify', 'notify-reload', 'oneshot', 'dbus', 'idle']) {
      const { candidates, skipped } = candidatesFor({ ...EFF_257, Type: type });
      expect(candidates.map((x) => x.spec.name), type).not.toContain('PrivatePIDs');
      expect(skipped.find((s) => s.option === 'PrivatePIDs')?.reason, type).toContain(PRIVATE_PIDS_STOP);
    }
  });

  it('skips it whether or not Type was read; forking gets systemd\'s own refusal as the reason', () => {
    const o = usable('PrivatePIDs', P257);
    expect(applySafetyPolicy(o, o.ladder, FACTS, NO_DECLARATIONS)).toEqual({ skip: PRIVATE_PIDS_STOP });
    expect(applySafetyPolicy(o, o.ladder, FACTS, NO_DECLARATIONS, { Type: 'forking' })).toEqual({ skip: expect.stringMatching(/Type=forking/) });
  });

  it('offers the whole new ladders of a 257 unit on defaults, in order', () => {
    const { candidates } = candidatesFor(EFF_257);
    const rungs = Object.fromEntries(candidates.filter((c) => NEW.includes(c.spec.name)).map((c) => [c.spec.name, c.rungs.map((r) => r.value)]));
    expect(rungs).toEqual({
      PrivateTmp: ['disconnected', 'yes'], ProtectControlGroups: ['strict', 'yes'], ProtectHostname: ['yes'],
      PrivateUsers: ['yes', 'identity'],
    });
  });
});
