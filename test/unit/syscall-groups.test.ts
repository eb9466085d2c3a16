// The running systemd's system call groups: the parser on real `systemd-analyze syscall-filter`
// output of 252, 257 and 262 and on hostile text, and SystemCallFilter judged by them — the 262
// failure (open_tree moved from @mount to @file-system, so every rung read back as "not applied").
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CATALOG, SYSCALL_GROUPS } from '../../src/core/catalog.js';
import { inForce } from '../../src/core/setting.js';
import { onlyResolved, parseSyscallFilterListing, renderResolvableCheck, resolvedNames, withSyscallGroups, type SyscallGroups } from '../../src/core/syscallGroups.js';
import type { EffectiveSettings, OptionSpec, Setting } from '../../src/core/types.js';
import { tune } from '../../src/engine/tune.js';
import { fakePorts, memoryDropIns } from '../fakes/ports.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'syscall-filter', name), 'utf8');
const TEXT = { 252: fixture('252-quiet.txt'), 257: fixture('257-full.txt'), 262: fixture('262-quiet.txt') };
const parsed = (v: keyof typeof TEXT): SyscallGroups => {
  const g = parseSyscallFilterListing(TEXT[v]);
  if (!g) throw new Error(`fixture ${v} did not parse`);
  return g;
};
const G252 = parsed(252);
const G262 = parsed(262);

describe('parseSyscallFilterListing on real output', () => {
  it('reads every group of 252 (--quiet), nested groups expanded', () => {
    expect(Object.keys(G252)).toHaveLength(29);
    expect(G252.mount).toContain('open_tree');
    // @privileged nests @chown @clock @module @raw-io @reboot @swap; expanded it is the table's
    expect(new Set(G252.privileged)).toEqual(new Set(SYSCALL_GROUPS.privileged));
    expect(G252['system-service']).toEqual(expect.arrayContaining(['chown', 'setuid', 'read', 'io_setup']));
    expect(Object.values(G252).flat().some((s) => s.startsWith('@'))).toBe(false);
  });

  it('reads 257 with its comment blocks after the groups (no --quiet)', () => {
    const g = parsed(257);
    expect(Object.keys(g)).toHaveLength(30);
    expect(g.default).toEqual(expect.arrayContaining(['brk', ...g.sandbox!])); // @default nests @sandbox
    expect(g.mount).toContain('open_tree');
    // "#   arc_gettls" under "Ungrouped System Calls" is a comment: the call is only in @known
    expect(Object.entries(g).filter(([k]) => k !== 'known').flatMap(([, v]) => v)).not.toContain('arc_gettls');
    expect(g.known).toContain('arc_gettls');
  });

  it('reads 262: open_tree in @file-system (so in @system-service), open_tree_attr in @mount', () => {
    expect(G262.mount).not.toContain('open_tree');
    expect(G262.mount).toContain('open_tree_attr');
    expect(G262['file-system']).toContain('open_tree');
    expect(G262['system-service']).toContain('open_tree');
  });

  it('strips colour escapes', () => {
    const colour = TEXT[252].replace(/^@([a-z-]+)$/gm, '\x1b[0;1;39m@$1\x1b[0m').replace(/^ {4}@([a-z-]+)$/gm, '    \x1b[0;4m@$1\x1b[0m');
    expect(colour).not.toBe(TEXT[252]);
    expect(parseSyscallFilterListing(colour)).toEqual(G252);
  });
});

describe('parseSyscallFilterListing on hostile text: undefined, never a throw', () => {
  const base = TEXT[262];
  it.each([
    ['not a string', 42],
    ['empty', ''],
    ['an error message', 'Not compiled with syscall filters, sorry.\n'],
    ['a garbled member', base.replace('    umount2\n', '    umount2; rm -rf /\n')],
    ['a garbled header', base.replace('@swap\n', '@swap!\n')],
    ['a member before any group', `    read\n${base}`],
    ['a group defined twice', `${base}\n@mount\n    # again\n    read\n`],
    ['an undefined nested group', base.replace('    @chown\n', '    @nope\n')],
    ['a cycle', base.replace('    swapoff\n', '    swapoff\n    @privileged\n')],
    ['a group autoharden scores missing', base.replace(/@mount\n(?: {4}.*\n)+/, '')],
    ['a scored group empty', base.replace(/(@swap\n {4}#.*\n)(?: {4}.*\n)+/, '$1')],
    ['more text than systemd prints', base + `@x\n${'    read\n'.repeat(200_000)}`],
  ])('%s', (_name, text) => {
    expect(parseSyscallFilterListing(text)).toBeUndefined();
  });

  it('any text, and the real text with a line spliced in: no throw, no "@" member', () => {
    const lines = base.split('\n');
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.nat(lines.length), (junk, at) => {
        for (const text of [junk, [...lines.slice(0, at), junk, ...lines.slice(at)].join('\n')]) {
          const g = parseSyscallFilterListing(text);
          if (g) expect(Object.values(g).flat().every((s) => /^[a-z_][a-z0-9_]*$/.test(s))).toBe(true);
        }
      }),
    );
  });
});

// What systemd reports back (SystemCallFilter, (bas)): the lines applied in order with these
// groups, single calls sorted (systemd-analyze's own round trip through libseccomp aside).
function readBack(lines: readonly string[], groups: SyscallGroups): { allow: boolean; items: string[] } | undefined {
  let allow: boolean | undefined;
  let set = new Set<string>();
  const calls = (t: string) => (t.startsWith('@') ? [...(groups[t.slice(1)] ?? [])] : [t]);
  for (const l of lines) {
    const v = l.slice('SystemCallFilter='.length);
    if (v === '') {
      allow = undefined;
      set = new Set();
      continue;
    }
    const deny = v.startsWith('~');
    const names = v.replace(/^~/, '').split(/\s+/).flatMap(calls);
    if (allow === undefined) allow = !deny;
    for (const n of names) {
      if (allow === !deny) set.add(n);
      else set.delete(n);
    }
  }
  return allow === undefined ? undefined : { allow, items: [...set].sort() };
}

const scf = (catalog: readonly OptionSpec[]) => catalog.find((o) => o.name === 'SystemCallFilter')!;
const rungSetting = (value: string): Setting => {
  const r = scf(CATALOG).ladder.find((x) => x.value === value)!;
  return { option: 'SystemCallFilter', value, lines: [...r.lines] };
};
const effOf = (s: Setting, groups: SyscallGroups): EffectiveSettings => ({ SystemCallFilter: readBack(s.lines, groups)! });

describe('SystemCallFilter judged by the running systemd\'s groups (the 262 failure)', () => {
  const C262 = withSyscallGroups(CATALOG, G262);
  const rungs = scf(CATALOG).ladder.map((r) => r.value);

  it.each(rungs)('%s, read back as 262 reports it: in force with 262\'s groups, not with the static table', (value) => {
    const s = rungSetting(value);
    const eff = effOf(s, G262);
    expect(inForce(s, eff, C262)).toBe(true);
    // the static (252) table puts open_tree in @mount: before this change every rung failed here
    expect(inForce(s, eff, CATALOG)).toBe(false);
  });

  it.each(rungs)('%s, read back as 252 reports it: in force with 252\'s listed groups and with the table', (value) => {
    const s = rungSetting(value);
    // 252's libseccomp (2.5.4) cannot resolve sys_debug_setcontext: the property never shows it
    const eff = effOf(s, { ...G252, debug: G252.debug!.filter((c) => c !== 'sys_debug_setcontext') });
    expect(inForce(s, eff, withSyscallGroups(CATALOG, G252))).toBe(true);
    expect(inForce(s, eff, CATALOG)).toBe(true);
  });

  it('a weaker filter still is not in force for a stronger rung (the groups do not make everything pass)', () => {
    const service = effOf(rungSetting('@system-service'), G262);
    expect(inForce(rungSetting('@system-service ~@privileged @resources'), service, C262)).toBe(false);
    const missesMount = effOf({ option: 'SystemCallFilter', value: 'x', lines: ['SystemCallFilter=~@clock @debug @module @raw-io @reboot @swap @cpu-emulation @obsolete'] }, G262);
    expect(inForce(rungSetting(scf(CATALOG).ladder.at(-1)!.value), missesMount, C262)).toBe(false);
  });

  it('minimisation items and steps use the groups too', () => {
    const spec = scf(C262);
    const service = effOf(rungSetting('@system-service'), G262);
    expect(spec.minimise!.items(service, rungSetting('@system-service'))).toEqual(['@resources', '@privileged']);
    const step = spec.minimise!.step(service, rungSetting('@system-service'), ['@resources', '@privileged']);
    expect(inForce(step, effOf(step, G262), C262)).toBe(true);
    expect(inForce(step, service, C262)).toBe(false);
  });

  it('without groups the catalog is unchanged; with them only the entry that asks is rebuilt', () => {
    expect(withSyscallGroups(CATALOG, undefined)).toBe(CATALOG);
    const changed = C262.filter((o, i) => o !== CATALOG[i]).map((o) => o.name);
    expect(changed).toEqual(CATALOG.filter((o) => o.withSyscallGroups).map((o) => o.name));
    expect(changed).toEqual(['SystemCallFilter']);
  });
});

describe('a tune reads the groups once through its port and judges the trials by them', () => {
  function service(groups: SyscallGroups) {
    const d = memoryDropIns('sim.service');
    let eff: EffectiveSettings = {};
    let reads = 0;
    const ports = fakePorts('sim.service', {
      systemd: {
        serviceProperties: async () => ({ ...eff }),
        reload: async () => {
          const lines = [...d.accepted, ...d.trial].flatMap((s) => s.lines);
          const v = readBack(lines, groups);
          eff = v ? { SystemCallFilter: v } : {};
        },
      },
      dropins: d,
    });
    return { ports, d, reads: () => reads, counting: async () => (reads++, groups) };
  }
  const run = (ports: Parameters<typeof tune>[0]) =>
    tune(ports, { unit: 'sim.service', probes: [], settleMs: 100, strategy: 'one-at-a-time', persist: false, declarations: { allowNet: [], localOnly: false, confineSessions: false } }, [scf(CATALOG)]);

  it('on 262 with its groups: the strongest filter is accepted; read once', async () => {
    const s = service(G262);
    const report = await run({ ...s.ports, syscallGroups: s.counting });
    expect(report.accepted.map((a) => a.value)).toEqual(['@system-service ~@privileged @resources']);
    expect(s.reads()).toBe(1);
    expect(report.warnings.join(' ')).not.toMatch(/system call groups/);
  });

  it('on 262 when the groups cannot be read: every rung "not applied" (the old failure), and a warning says why', async () => {
    const s = service(G262);
    const report = await run({ ...s.ports, syscallGroups: async () => undefined });
    expect(report.accepted).toEqual([]);
    // the symptom seen on Debian unstable: each rung, one after the other
    expect(report.rejected.map((r) => [r.value, r.reason])).toEqual(rungs262().map((r) => [r.value, 'systemd did not apply it (read back over D-Bus)']));
    expect(report.warnings.join(' ')).toMatch(/could not read systemd's system call groups/);
  });
  const rungs262 = () => scf(CATALOG).ladder;
});

describe('calls the running libseccomp cannot resolve (257: switch_endian in @cpu-emulation)', () => {
  const G257 = parsed(257);
  const deny = '~@clock @debug @module @mount @raw-io @reboot @swap @cpu-emulation @obsolete';
  const denyRung = () => scf(CATALOG).ladder.find((r) => r.value === deny);
  /** systemd's read-back, less the calls its libseccomp dropped when it parsed the filter. */
  const dropping = (s: Setting, groups: SyscallGroups, dropped: string[]): EffectiveSettings => {
    const rb = readBack(s.lines, groups)!;
    return { SystemCallFilter: { allow: rb.allow, items: rb.items.filter((n) => !dropped.includes(n)) } };
  };

  it('the check unit names every member of the scored groups in one deny line, and only loads', () => {
    const text = renderResolvableCheck(G257, '# MARK');
    expect(text.split('\n')[0]).toBe('# MARK');
    const line = text.split('\n').find((l) => l.startsWith('SystemCallFilter=~'))!;
    const names = line.slice('SystemCallFilter=~'.length).split(' ');
    expect(names).toContain('switch_endian');
    expect(names).toContain('open_tree');
    expect(names.every((n) => /^[a-z_][a-z0-9_]*$/.test(n))).toBe(true);
    expect(text).toContain('ExecStart=/bin/true');
  });

  it('reads the resolved names from the read-back, errno suffixes off; anything else is unknown', () => {
    expect(resolvedNames({ allow: false, items: ['vm86', 'ptrace:EPERM'] })).toEqual(new Set(['vm86', 'ptrace']));
    for (const bad of [undefined, null, 'x', [], { allow: true, items: ['a'] }, { allow: false, items: [] }, { allow: false, items: 'a' }]) {
      expect(resolvedNames(bad)).toBeUndefined();
    }
  });

  it('without it a deny rung whose group lists an unresolvable call is never "in force"; with it, it is', () => {
    const rung = denyRung();
    expect(rung, 'the deny rung exists').toBeDefined();
    const setting = rungSetting(deny);
    const eff = dropping(setting, G257, ['switch_endian']);
    expect(inForce(setting, eff, withSyscallGroups(CATALOG, G257))).toBe(false); // the 257 failure
    const everything = readBack(['SystemCallFilter=~' + renderResolvableCheck(G257, '#').split('SystemCallFilter=~')[1]!.split('\n')[0]], G257)!;
    const resolved = resolvedNames({ allow: false, items: everything.items.filter((n) => n !== 'switch_endian') });
    const judged = withSyscallGroups(CATALOG, onlyResolved(G257, resolved));
    expect(inForce(setting, eff, judged)).toBe(true);
    // a call the filter really lacks still counts: ptrace missing means @debug is not denied
    const leaky = dropping(setting, G257, ['switch_endian', 'ptrace']);
    expect(inForce(setting, leaky, judged)).toBe(false);
  });

  it('keeps a group whole when none of it resolves, and the groups as they are when unknown', () => {
    expect(onlyResolved({ a: ['x', 'y'], b: ['z'] }, new Set(['x']))).toEqual({ a: ['x'], b: ['z'] });
    const g = { a: ['x'] };
    expect(onlyResolved(g, undefined)).toBe(g);
  });
});
