// Typed settings (issue 11): a setting carries its rung, learned paths and items, inForce() checks
// it from them and the catalog, and a journal written before settings carried their structure
// loads to the setting today's code would write.
import { describe, expect, it } from 'vitest';
import { capabilityStep, syscallStep } from '../../src/core/minimize.js';
import { maskFromCaps } from '../../src/core/capabilities.js';
import { optionByName } from '../../src/core/catalog.js';
import { scanJournal } from '../../src/core/journal.js';
import { learnFromFailure, type LearnContext } from '../../src/core/learn.js';
import { toSetting } from '../../src/core/plan.js';
import { applySafetyPolicy, type Declarations, type SafetyFacts } from '../../src/core/policy.js';
import { inForce } from '../../src/core/setting.js';
import type { EffectiveSettings, Setting } from '../../src/core/types.js';

const spec = (name: string) => optionByName(name)!;
const ladder = (name: string, value: string): Setting => toSetting(spec(name), spec(name).ladder.find((r) => r.value === value)!);
const ctx: LearnContext = { scope: { names: ['app'], directories: [] } };
const erofs = (p: string) => `app: EROFS: read-only file system, open '${p}/x.tmp'`;
const learned = learnFromFailure([ladder('ProtectSystem', 'strict')], [erofs('/var/lib/app'), erofs('/var/log/app')], ctx)![0]!;

const FACTS: SafetyFacts = { usesInet: true, inetEndpoints: [], nonLoopbackListeners: [], families: [], peers: [], sessionEvidence: [], createdModes: [] };
function ipSetting(allowNet: string[]): Setting {
  const d: Declarations = { allowNet, localOnly: allowNet.length === 0, confineSessions: false };
  const decision = applySafetyPolicy(spec('IPAddressDeny'), spec('IPAddressDeny').ladder, FACTS, d);
  if (!('rungs' in decision)) throw new Error(decision.skip);
  return toSetting(spec('IPAddressDeny'), decision.rungs[0]!);
}

/** A setting as a journal written before structured settings holds it. */
const packed = (s: Setting): Setting => ({ option: s.option, value: s.value, lines: s.lines });

/** Loads settings through the journal reader, as a trial-end line. */
function load(settings: Setting[]): Setting[] {
  const rec = { t: '2026-12-01T00:00:00.000Z', unit: 'app.service', kind: 'trial-end', trial: 1, settings, outcome: 'accepted', verdict: 'ok', reason: 'ok', evidence: [] };
  const scan = scanJournal(new TextEncoder().encode(`${JSON.stringify(rec)}\n`));
  if (!scan.ok || scan.torn || scan.records[0]?.kind !== 'trial-end') throw new Error('not loaded');
  return scan.records[0].settings;
}

describe('a setting carries its structure', () => {
  it('learned paths: the learning rung and the directories, the value only for people', () => {
    expect(learned).toEqual({
      option: 'ProtectSystem', value: 'strict; ReadWritePaths=-/var/lib/app -/var/log/app',
      lines: ['ProtectSystem=strict', 'ReadWritePaths=-/var/lib/app -/var/log/app'], rung: 'strict', paths: ['/var/lib/app', '/var/log/app'],
    });
  });

  it('inForce checks the learned paths among ReadWritePaths in force, with or without their prefix', () => {
    const strict = { ProtectSystem: 'strict' };
    expect(inForce(learned, { ...strict, ReadWritePaths: ['-/var/lib/app', '-/var/log/app'] })).toBe(true);
    expect(inForce(learned, { ...strict, ReadWritePaths: ['/var/log/app', '/srv/x', '-/var/lib/app'] })).toBe(true);
    expect(inForce(learned, { ...strict, ReadWritePaths: ['-/var/lib/app'] })).toBe(false);
    expect(inForce(learned, { ...strict, ReadWritePaths: ['-/var/lib/app/sub', '-/var/log'] })).toBe(false);
    expect(inForce(learned, strict)).toBe(false); // not read back: not shown in force
    expect(inForce(learned, { ...strict, ReadWritePaths: null })).toBe(false);
    expect(inForce(learned, { ProtectSystem: 'full', ReadWritePaths: ['-/var/lib/app', '-/var/log/app'] })).toBe(false);
    expect(inForce(ladder('ProtectSystem', 'strict'), strict)).toBe(true);
  });

  it('inForce checks items by the entry\'s own check, and refuses what it does not know', () => {
    const any = [{ family: 2, address: '0.0.0.0', prefix: 0 }, { family: 10, address: '::', prefix: 0 }];
    const local = [{ family: 2, address: '127.0.0.0', prefix: 8 }, { family: 10, address: '::1', prefix: 128 }];
    const net = ipSetting(['10.1.0.0/16']);
    expect(net).toMatchObject({ value: 'any, allow localhost 10.1.0.0/16', rung: 'any, allow localhost', items: ['10.1.0.0/16'] });
    expect(inForce(net, { IPAddressDeny: any, IPAddressAllow: [...local, { family: 2, address: '10.1.0.0', prefix: 16 }] })).toBe(true);
    expect(inForce(net, { IPAddressDeny: any, IPAddressAllow: local })).toBe(false);
    const caps = capabilityStep({ CapabilityBoundingSet: maskFromCaps(['CAP_CHOWN', 'CAP_SETUID']) }, ['CAP_CHOWN']);
    expect(caps).toMatchObject({ value: 'keep SETUID', rung: 'daemon', items: ['CAP_SETUID'] });
    expect(inForce(caps, { CapabilityBoundingSet: maskFromCaps(['CAP_SETUID']) })).toBe(true);
    expect(inForce(caps, { CapabilityBoundingSet: maskFromCaps(['CAP_SETUID', 'CAP_CHOWN']) })).toBe(false);
    // a tampered journal's items, an option without an items check, unknown options and rungs
    expect(inForce({ ...caps, items: ['CAP_NO_SUCH'] }, { CapabilityBoundingSet: 0 })).toBe(false);
    expect(inForce({ ...net, items: ['not a network'] }, { IPAddressDeny: any, IPAddressAllow: local })).toBe(false);
    expect(inForce({ ...ladder('PrivateTmp', 'yes'), items: [] }, { PrivateTmp: true })).toBe(false);
    expect(inForce({ option: 'NoSuchOption', value: 'yes', lines: [] }, {})).toBe(false);
    expect(inForce({ ...ladder('ProtectSystem', 'strict'), rung: 'stricter' }, { ProtectSystem: 'strict' })).toBe(false);
  });
});

describe('journal records written before settings carried their structure', () => {
  const scfBase = ladder('SystemCallFilter', '@system-service');
  const scfOnce = syscallStep(scfBase, ['@resources']);
  const eff: EffectiveSettings = { CapabilityBoundingSet: maskFromCaps(['CAP_CHOWN', 'CAP_SETUID', 'CAP_SYS_ADMIN']) };
  const today: Array<[string, Setting]> = [
    ['learned paths', learned],
    ['a plain rung', ladder('PrivateTmp', 'yes')],
    ['a system call filter rung that looks like a step', ladder('SystemCallFilter', '@system-service ~@privileged @resources')],
    ['a minimised bounding set', capabilityStep(eff, ['CAP_CHOWN'])],
    ['a bounding set minimised beyond the ladder', capabilityStep(eff, ['CAP_CHOWN', 'CAP_SETUID'])],
    ['a bounding set minimised to empty', capabilityStep(eff, ['CAP_CHOWN', 'CAP_SETUID', 'CAP_SYS_ADMIN'])],
    ['a minimised filter', scfOnce],
    ['a filter minimised twice (a resumed minimise)', syscallStep(scfOnce, ['@privileged'])],
    ['a filter minimised by a group', syscallStep(ladder('SystemCallFilter', spec('SystemCallFilter').ladder.at(-1)!.value), ['@resources', '@privileged'])],
    ['the policy\'s local-only rung', ipSetting([])],
    ['the policy\'s rung with declared networks', ipSetting(['10.1.0.0/16', '2001:db8::/32'])],
  ];

  it.each(today)('%s loads to the setting written today', (_what, s) => {
    expect(load([packed(s)])).toEqual([s]);
    expect(load([s])).toEqual([s]); // and today's record reads back as written
  });

  it('derives the same verdict from an old record as from today\'s', () => {
    const [old] = load([packed(learned)]);
    const ok = { ProtectSystem: 'strict', ReadWritePaths: ['-/var/lib/app', '-/var/log/app'] };
    expect(inForce(old!, ok)).toBe(true);
    expect(inForce(old!, { ...ok, ReadWritePaths: ['-/var/lib/app'] })).toBe(false);
  });

  it('keeps hostile old values as data: no throw, nothing in force that is not', () => {
    const [caps] = load([{ option: 'CapabilityBoundingSet', value: 'keep NO_SUCH', lines: ['CapabilityBoundingSet=~CAP_CHOWN'] }]);
    expect(caps).toMatchObject({ value: 'keep NO_SUCH', items: ['CAP_NO_SUCH'] });
    expect(inForce(caps!, { CapabilityBoundingSet: 0 })).toBe(false);
    const [ps] = load([{ option: 'ProtectSystem', value: 'strict; ReadWritePaths=', lines: ['ProtectSystem=strict'] }]);
    expect(ps).toMatchObject({ rung: 'strict', paths: [] });
    const [odd] = load([{ option: 'SystemCallFilter', value: '@nothing ~@resources', lines: [] }]);
    expect(odd).toEqual({ option: 'SystemCallFilter', value: '@nothing ~@resources', lines: [] });
  });
});
