// merge (core/profileMerge.ts): the set every host kept, the weakest of differing ladder values,
// unions the catalog builds, and each host's exceptions; and `autoharden merge` run as a process on
// real files: the documented exit codes, one line on stderr.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilityStep } from '../../src/core/boundingSet.js';
import { CAPABILITIES } from '../../src/core/capabilities.js';
import { optionByName } from '../../src/core/catalog.js';
import { checkSetting } from '../../src/core/directives.js';
import { AutohardenError, EXIT_CODES } from '../../src/core/errors.js';
import { buildProfile } from '../../src/core/exportProfile.js';
import { MAX_PROFILE_BYTES, parseProfile, renderProfile, type Profile } from '../../src/core/profile.js';
import { mergeProfiles } from '../../src/core/profileMerge.js';
import type { Setting } from '../../src/core/types.js';
import { ENV, UNIT, exportJournal, setting } from '../fixtures/export/journal.js';
import { thrown } from './expect-errors.js';
import { bundleCli, type BundledCli } from '../harness/bundledCli.js';

const BASE = buildProfile(UNIT, exportJournal(), ENV, { unobserved: 'test' });
const NOW = new Date('2026-12-03T00:00:00Z');

/** A host's profile holding exactly these settings. */
function host(name: string, settings: Setting[], o: Partial<Profile> = {}): Profile {
  return parseProfile(renderProfile({ ...BASE, ...o, source: { ...BASE.source, host: name }, settings }));
}
const merge = (...ps: Profile[]) => mergeProfiles(ps.map((p, i) => ({ profile: p, origin: `p${i}.json` })), NOW);
const caps = (keep: string[]) => capabilityStep({}, CAPABILITIES.filter((c) => !keep.includes(c)));
const exceptionsOf = (p: Profile) => p.merged!.exceptions.map((e) => [e.host, e.option, e.status]);

describe('merge', () => {
  const nnp = setting('NoNewPrivileges', 'yes');
  const ptmp = setting('PrivateTmp', 'yes');

  it('keeps a setting every host has with the same value, and says which hosts it combined', () => {
    const r = merge(host('a', [nnp, ptmp]), host('b', [ptmp, nnp]), host('c', [nnp, ptmp]));
    expect(r.profile.settings).toEqual([nnp, ptmp]);
    expect(r.profile.merged).toEqual({ hosts: ['a', 'b', 'c'], exceptions: [] });
    expect({ kept: r.kept, hosts: r.hosts, exceptions: r.exceptions }).toEqual({ kept: 2, hosts: 3, exceptions: 0 });
    // the first input's source, a new date, no exposure measured
    expect(r.profile.source.host).toBe('a');
    expect(r.profile.created).toBe(NOW.toISOString());
    expect(r.profile.exposure).toEqual({ before: null, after: null });
    expect(parseProfile(renderProfile(r.profile))).toEqual(r.profile);
  });

  it('leaves out an option some host lacks, listed as missing for that host only', () => {
    const r = merge(host('a', [nnp, ptmp]), host('b', [nnp]), host('c', [nnp, ptmp]));
    expect(r.profile.settings).toEqual([nnp]);
    expect(exceptionsOf(r.profile)).toEqual([['b', 'PrivateTmp', 'missing']]);
    expect(r.profile.merged!.exceptions[0]!.reason).toMatch(/not in b's accepted set \(a, c kept PrivateTmp=yes\)/);
  });

  it('keeps the weakest ladder value when values differ, whichever host comes first', () => {
    const strict = setting('ProtectSystem', 'strict', ['/var/lib/nginx']);
    const full = setting('ProtectSystem', 'full');
    for (const order of [['a', 'b'], ['b', 'a']]) {
      const ps = { a: host('a', [strict]), b: host('b', [full]) };
      const r = merge(...order.map((h) => ps[h as 'a' | 'b']));
      expect(r.profile.settings).toEqual([full]);
      expect(exceptionsOf(r.profile)).toEqual([['a', 'ProtectSystem', 'weaker']]);
      expect(r.profile.merged!.exceptions[0]!.reason).toMatch(/a verified ProtectSystem=strict; ReadWritePaths=-\/var\/lib\/nginx; the merged set keeps full, .*which b verified/);
    }
  });

  it('takes the union of learned ReadWritePaths at the learning rung, saying no host verified it', () => {
    const r = merge(host('a', [setting('ProtectSystem', 'strict', ['/var/lib/x'])]), host('b', [setting('ProtectSystem', 'strict', ['/var/log/x'])]));
    const [s] = r.profile.settings;
    expect(s).toEqual(setting('ProtectSystem', 'strict', ['/var/lib/x', '/var/log/x']));
    expect(s!.lines).toEqual(['ProtectSystem=strict', 'ReadWritePaths=-/var/lib/x -/var/log/x']);
    expect(exceptionsOf(r.profile)).toEqual([['a', 'ProtectSystem', 'weaker'], ['b', 'ProtectSystem', 'weaker']]);
    expect(r.profile.merged!.exceptions.every((e) => /no host verified this exact value/.test(e.reason))).toBe(true);
    // a host that already has every directory: its verified setting as is
    const wide = setting('ProtectSystem', 'strict', ['/var/lib/x', '/var/log/x']);
    const r2 = merge(host('a', [setting('ProtectSystem', 'strict', ['/var/lib/x'])]), host('b', [wide]));
    expect(r2.profile.settings).toEqual([wide]);
    expect(exceptionsOf(r2.profile)).toEqual([['a', 'ProtectSystem', 'weaker']]);
    expect(r2.profile.merged!.exceptions[0]!.reason).toMatch(/which b verified/);
  });

  it('keeps every capability some host kept in the bounding set, written with ~ lines only', () => {
    const a = caps(['CAP_NET_BIND_SERVICE', 'CAP_SETUID']);
    const b = caps(['CAP_NET_BIND_SERVICE', 'CAP_CHOWN']);
    const r = merge(host('a', [a]), host('b', [b]));
    const [s] = r.profile.settings;
    expect(s!.items!.sort()).toEqual(['CAP_CHOWN', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID']);
    expect(s!.lines).toHaveLength(1);
    expect(s!.lines[0]).toMatch(/^CapabilityBoundingSet=~/);
    for (const c of ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID']) expect(s!.lines[0]!.split(/[~ ]/)).not.toContain(c);
    expect(s!.lines[0]).toContain('CAP_SYS_ADMIN');
    expect(() => checkSetting(s!)).not.toThrow();
    expect(exceptionsOf(r.profile)).toEqual([['a', 'CapabilityBoundingSet', 'weaker'], ['b', 'CapabilityBoundingSet', 'weaker']]);
    // a ladder rung that already keeps them all: that host's setting as is
    const daemon = setting('CapabilityBoundingSet', 'daemon');
    const r2 = merge(host('a', [a]), host('b', [daemon]));
    expect(r2.profile.settings).toEqual([daemon]);
    expect(exceptionsOf(r2.profile)).toEqual([['a', 'CapabilityBoundingSet', 'weaker']]);
  });

  it('leaves out an option whose values cannot be ordered, listed as a conflict for every host', () => {
    const spec = optionByName('IPAddressDeny')!;
    const base = spec.ladder[0]!;
    const allow = (nets: string[]): Setting => ({ option: 'IPAddressDeny', value: `${base.value} ${nets.join(' ')}`, lines: [...base.lines.filter((l) => !l.startsWith('IPAddressAllow')), `IPAddressAllow=localhost ${nets.join(' ')}`], rung: base.value, items: nets });
    const r = merge(host('a', [nnp, allow(['10.0.0.0/8'])]), host('b', [nnp, allow(['192.168.0.0/16'])]));
    expect(r.profile.settings).toEqual([nnp]);
    expect(exceptionsOf(r.profile)).toEqual([['a', 'IPAddressDeny', 'conflict'], ['b', 'IPAddressDeny', 'conflict']]);
    expect(r.profile.merged!.exceptions[0]!.reason).toMatch(/differ in what they allow: IPAddressDeny left out/);
  });

  it('leaves out an option this autoharden does not know, even when every host has it', () => {
    const odd = { option: 'ExecStartPre', value: '/bin/id', lines: ['ExecStartPre=/bin/id'] };
    const r = merge(host('a', [nnp, odd]), host('b', [nnp, odd]));
    expect(r.profile.settings).toEqual([nnp]);
    expect(exceptionsOf(r.profile)).toEqual([['a', 'ExecStartPre', 'skipped'], ['b', 'ExecStartPre', 'skipped']]);
  });

  it('merges a merged profile again: its hosts and exceptions carry over', () => {
    const ab = merge(host('a', [nnp, ptmp]), host('b', [nnp])).profile;
    const r = merge(ab, host('c', [nnp, ptmp]));
    expect(r.profile.merged!.hosts).toEqual(['a', 'b', 'c']);
    expect(r.profile.settings).toEqual([nnp]);
    // b's exception once: the one its own merge listed
    expect(exceptionsOf(r.profile)).toEqual([['b', 'PrivateTmp', 'missing'], ['a', 'PrivateTmp', 'missing']]);
    expect(r.profile.merged!.exceptions[1]!.reason).toMatch(/^not in the merged set that holds a \(c kept PrivateTmp=yes\)/);
  });

  it('keeps each reason and each union within the bounds a profile has, however long the values', () => {
    const dirs = (p: string) => Array.from({ length: 100 }, (_, i) => `/var/lib/${p}${'x'.repeat(20)}${i}`);
    const wide = setting('ProtectSystem', 'strict', [...dirs('a'), '/srv/b']);
    const r = merge(host('a', [setting('ProtectSystem', 'strict', dirs('a'))]), host('b', [wide]));
    expect(r.profile.settings).toEqual([wide]);
    const [e] = r.profile.merged!.exceptions;
    expect(e!.reason.length).toBe(4096);
    expect(e!.reason.endsWith('...')).toBe(true);
    expect(parseProfile(renderProfile(r.profile))).toEqual(r.profile);
    // a union longer than a setting may be: left out, said
    const r2 = merge(host('a', [setting('ProtectSystem', 'strict', dirs('a'))]), host('b', [setting('ProtectSystem', 'strict', dirs('b'))]));
    expect(r2.profile.settings).toEqual([]);
    expect(exceptionsOf(r2.profile)).toEqual([['a', 'ProtectSystem', 'conflict'], ['b', 'ProtectSystem', 'conflict']]);
    expect(r2.profile.merged!.exceptions[0]!.reason).toMatch(/200 directories\) is more than a profile holds/);
  });

  it("counts a host given twice once, with its latest profile (the canary's learned one, then its own after apply)", () => {
    const learned = host('canary', [nnp, ptmp], { created: '2026-12-01T10:00:00.000Z' });
    const applied = host('canary', [nnp], { created: '2026-12-02T10:00:00.000Z' });
    for (const ps of [[learned, applied, host('b', [nnp, ptmp])], [applied, host('b', [nnp, ptmp]), learned]]) {
      const r = merge(...ps);
      expect(r.profile.merged!.hosts.sort()).toEqual(['b', 'canary']);
      expect(r.profile.settings).toEqual([nnp]);
      expect(exceptionsOf(r.profile)).toEqual([['canary', 'PrivateTmp', 'missing']]);
      expect(r.notes).toHaveLength(1);
      expect(r.notes[0]).toMatch(/p\d\.json left out: p\d\.json is a later profile of host "canary"/);
    }
  });

  it('refuses profiles of different units, and a host that merged profiles hold twice', () => {
    const e = thrown(() => merge(host('a', [nnp]), host('b', [nnp], { unit: 'sshd.service' })), AutohardenError);
    expect(e.code).toBe('Usage');
    expect(e.message).toMatch(/p1\.json is a profile of sshd\.service, p0\.json of nginx\.service/);
    const ab = merge(host('a', [nnp]), host('b', [nnp])).profile;
    expect(thrown(() => merge(ab, host('a', [nnp])), AutohardenError).message).toMatch(/p1\.json and p0\.json both hold host "a"/);
    expect(thrown(() => mergeProfiles([]), AutohardenError).code).toBe('Usage');
  });
});

// ---- as a process ----------------------------------------------------------------------------

let out = '';
let main = '';

let bundled: BundledCli | undefined;

beforeAll(async () => {
  bundled = await bundleCli('ah-merge-cli-');
  ({ out, main } = bundled);
}, 60_000);

afterAll(() => {
  bundled?.remove();
});

const cli = (args: string[]) => spawnSync(process.execPath, [main, 'merge', ...args], {
  encoding: 'utf8', timeout: 60_000, env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(out, 'no-bus')}` },
});
const file = (name: string, text: string) => {
  const p = join(out, name);
  writeFileSync(p, text);
  return p;
};

describe('autoharden merge', { timeout: 60_000 }, () => {
  const nnp = setting('NoNewPrivileges', 'yes');

  it('prints the merged profile on stdout and the summary on stderr', () => {
    const a = file('a.json', renderProfile(host('a', [nnp, setting('PrivateTmp', 'yes')])));
    const b = file('b.json', renderProfile(host('b', [nnp])));
    const r = cli([a, b]);
    expect(r.stderr).toBe('kept 1 setting on all 2 hosts; 1 exception\n');
    expect(r.status).toBe(0);
    const p = parseProfile(r.stdout);
    expect(p.settings).toEqual([nnp]);
    expect(p.merged!.hosts).toEqual(['a', 'b']);
    const noDate = (t: string) => t.replace(/"created": "[^"]+"/, '');
    expect(noDate(cli([a, b, '--json']).stdout)).toBe(noDate(r.stdout)); // a profile is JSON either way
  });

  const bad: Array<[string, () => string[], number, RegExp]> = [
    ['a file that does not exist', () => [join(out, 'absent.json')], EXIT_CODES.Usage, /cannot read profile ".*absent\.json" \(ENOENT\)/],
    ['a directory', () => [out], EXIT_CODES.Usage, /not a regular file/],
    ['a file larger than a profile may be', () => [file('big.json', ' '.repeat(MAX_PROFILE_BYTES + 1))], EXIT_CODES.Config, /larger than/],
    ['a file that is not a profile', () => [file('priors.json', '{"version":1,"entries":[]}')], EXIT_CODES.Config, /not an autoharden profile/],
    ['a profile with a directive autoharden never writes', () => [file('evil.json', renderProfile(host('e', [nnp])).replace('"NoNewPrivileges=yes"', '"ExecStartPre=/bin/id"'))], EXIT_CODES.Config, /ExecStartPre/],
    ['profiles of different units', () => [file('u1.json', renderProfile(host('a', [nnp]))), file('u2.json', renderProfile(host('b', [nnp], { unit: 'sshd.service' })))], EXIT_CODES.Usage, /sshd\.service/],
  ];

  it.each(bad)('refuses %s: its exit code, one line on stderr, nothing on stdout', (_what, args, code, msg) => {
    const r = cli(args());
    expect(r.status).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('needs at least one profile', () => {
    expect(cli([]).status).toBe(EXIT_CODES.Usage);
  });
});
