// The running systemd-analyze's checks and weights (core/analyzeRows.ts): fixtures captured with
// `SYSTEMD_ANALYZE_DEBUG=1 systemd-analyze security --offline=yes --json=short UNIT` on Debian 12's
// 252.38 (host), Debian 13's 257.13 and unstable's 262.1 (chroots of their roots), of test/fixtures/analyze-security/{bare,hard}.service;
// 252-policy.json adds --security-policy=policy.json. Hostile texts, the v252 fallback, the
// settings the score does not count, and a tune that orders and reports by them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  exposureFromRows, optionOfField, parseAnalyzeRows, rowWeights, scoredBy, unscoredSettings, withWeights, type AnalyzeRows,
} from '../../src/core/analyzeRows.js';
import { CATALOG, optionByName } from '../../src/core/catalog.js';
import { foldReport } from '../../src/core/report.js';
import type { Setting } from '../../src/core/types.js';
import { tune } from '../../src/engine/tune.js';
import { formatTuneReport } from '../../src/cli/format.js';
import { enrollmentSchema } from '../../src/daemon/store.js';
import { fakePorts, memoryDropIns } from '../fakes/ports.js';

const FIX = join(import.meta.dirname, '../fixtures/analyze-security');
const text = (name: string) => readFileSync(join(FIX, name), 'utf8');
const rowsOf = (name: string): AnalyzeRows => {
  const rows = parseAnalyzeRows(text(name));
  if (!rows) throw new Error(`${name} did not parse`);
  return rows;
};
const NAMES = new Set(CATALOG.map((s) => s.name));
const weightsOf = (rows: AnalyzeRows) => Object.fromEntries(rows.map((r) => [r.field, [r.weight, r.range]]));

describe('parseAnalyzeRows on what 252, 257 and 262 print', () => {
  it('reads all 81 checks; N/A rows (set: null, badness UINT64_MAX) carry no badness', () => {
    for (const f of ['252.json', '257.json', '262.json', '252-hard.json', '257-hard.json', '262-hard.json', '252-policy.json']) {
      const rows = rowsOf(f);
      expect(rows).toHaveLength(81);
      expect(rows.every((r) => r.badness === undefined || (Number.isSafeInteger(r.badness) && r.badness <= r.range))).toBe(true);
    }
    const bare = rowsOf('252.json');
    // a root service: SupplementaryGroups and RemoveIPC do not apply
    expect(bare.find((r) => r.field === 'SupplementaryGroups')).toEqual({ field: 'SupplementaryGroups', weight: 200, range: 1 });
    expect(bare.find((r) => r.field === 'RemoveIPC')).toEqual({ field: 'RemoveIPC', weight: 100, range: 1 });
    expect(bare.find((r) => r.field === 'PrivateNetwork')).toEqual({ field: 'PrivateNetwork', weight: 2500, range: 1, badness: 1 });
    // with User=nobody they do
    expect(rowsOf('252-hard.json').find((r) => r.field === 'RemoveIPC')?.badness).toBe(1);
  });

  it("recomputes the overall score analyze printed for each fixture (the rows are read right)", () => {
    expect(exposureFromRows(rowsOf('252.json'))).toBe(9.6);
    expect(exposureFromRows(rowsOf('252-hard.json'))).toBe(9.3);
    expect(exposureFromRows(rowsOf('257.json'))).toBe(9.4);
    expect(exposureFromRows(rowsOf('257-hard.json'))).toBe(8.8);
    expect(exposureFromRows(rowsOf('262.json'))).toBe(9.4);
    expect(exposureFromRows(rowsOf('262-hard.json'))).toBe(8.8);
    expect(exposureFromRows(rowsOf('252-policy.json'))).toBe(9.6);
    // 257 and 262 parse PrivateTmp=disconnected and score it like yes; 252 ignores the line
    expect(rowsOf('257-hard.json').find((r) => r.field === 'PrivateTmp')?.badness).toBe(0);
    expect(rowsOf('262-hard.json').find((r) => r.field === 'PrivateTmp')?.badness).toBe(0);
    expect(rowsOf('252-hard.json').find((r) => r.field === 'PrivateTmp')?.badness).toBe(1);
  });

  it('252, 257 and 262 weigh every check the same (total 56460)', () => {
    expect(weightsOf(rowsOf('257.json'))).toEqual(weightsOf(rowsOf('252.json')));
    expect(weightsOf(rowsOf('262.json'))).toEqual(weightsOf(rowsOf('252.json')));
    expect(rowsOf('252.json').reduce((s, r) => s + r.weight, 0)).toBe(56460);
  });
});

describe('the catalog weights are the tested fallback: they equal what 252 prints', () => {
  it('every option weighs the sum of its checks in the 252 JSON, 0 when it has none', () => {
    const w = rowWeights(rowsOf('252.json'), NAMES);
    for (const spec of CATALOG) expect([spec.name, spec.weight]).toEqual([spec.name, w.get(spec.name) ?? 0]);
    expect(withWeights(CATALOG, rowsOf('252.json')).every((s, i) => s === CATALOG[i])).toBe(true);
    expect(withWeights(CATALOG, rowsOf('257.json')).every((s, i) => s === CATALOG[i])).toBe(true);
    expect(withWeights(CATALOG, rowsOf('262.json')).every((s, i) => s === CATALOG[i])).toBe(true);
  });

  it('every check of 252 belongs to one catalog option (the mapping misses none)', () => {
    const unmapped = rowsOf('252.json').filter((r) => optionOfField(r.field, NAMES) === undefined).map((r) => r.field);
    expect(unmapped).toEqual([]);
    expect(optionOfField('UserOrDynamicUser', NAMES)).toBe('User');
    expect(optionOfField('CapabilityBoundingSet_CAP_NET_BIND_SERVICE_BROADCAST_RAW)', NAMES)).toBe('CapabilityBoundingSet');
    expect(optionOfField('SystemCallFilter_cpu_emulation', NAMES)).toBe('SystemCallFilter');
    for (const odd of ['NewCheck', 'Private', '_PrivateTmp', '__proto__', 'constructor', 'PrivateTmpX']) expect(optionOfField(odd, NAMES)).toBeUndefined();
  });

  it('a local policy file changes the weights, and the catalog follows it', () => {
    const c = withWeights(CATALOG, rowsOf('252-policy.json'));
    const by = new Map(c.map((s) => [s.name, s]));
    expect(by.get('PrivateTmp')!.weight).toBe(4000);
    expect(by.get('SystemCallFilter')!.weight).toBe(optionByName('SystemCallFilter')!.weight - 1000 + 10);
    // the rest is untouched, behaviour included
    expect(by.get('ProtectHome')).toBe(optionByName('ProtectHome'));
    expect(by.get('PrivateTmp')!.ladder).toBe(optionByName('PrivateTmp')!.ladder);
  });

  it('without rows the catalog is returned as is', () => {
    expect(withWeights(CATALOG, undefined)).toBe(CATALOG);
  });
});

describe('parseAnalyzeRows refuses what it cannot trust', () => {
  const good = { set: false, name: 'PrivateTmp=', json_field: 'PrivateTmp', description: 'd', weight: 1000, badness: 1, range: 1, exposure: '0.2' };
  const one = (r: object) => parseAnalyzeRows(JSON.stringify([r]));

  it('takes a well-formed row, and ignores keys it does not know', () => {
    expect(one({ ...good, extra: { deep: [1, 2] } })).toEqual([{ field: 'PrivateTmp', weight: 1000, range: 1, badness: 1 }]);
  });

  it('reads UINT64_MAX (and anything above the range) as N/A, never as a figure', () => {
    const raw = (badness: string, set = 'false') => `[{"set":${set},"json_field":"PrivateTmp","weight":1000,"range":1,"badness":${badness}}]`;
    for (const b of ['18446744073709551615', '18446744073709551614', '9007199254740993', '2', '1e400']) {
      expect(parseAnalyzeRows(raw(b))).toEqual([{ field: 'PrivateTmp', weight: 1000, range: 1 }]);
    }
    // set: null is N/A whatever the badness says
    expect(parseAnalyzeRows(raw('0', 'null'))).toEqual([{ field: 'PrivateTmp', weight: 1000, range: 1 }]);
    expect(exposureFromRows(parseAnalyzeRows(raw('18446744073709551615'))!)).toBeUndefined();
  });

  it('refuses garbled rows as a whole (the caller falls back to 252)', () => {
    const bad: object[] = [
      { ...good, weight: '1000' }, { ...good, weight: -1 }, { ...good, weight: 1.5 }, { ...good, weight: 1e12 },
      { ...good, range: 0 }, { ...good, range: null }, { ...good, badness: -1 }, { ...good, badness: 0.5 }, { ...good, badness: '1' },
      { ...good, badness: null }, { ...good, set: 'yes' }, { ...good, set: 0 }, { ...good, json_field: 'Private Tmp' },
      { ...good, json_field: 'a'.repeat(129) }, { ...good, json_field: 'x\u001b[2J' }, { ...good, json_field: 7 },
    ];
    for (const r of bad) expect([r, one(r)]).toEqual([r, undefined]);
    // one bad row among good ones spoils the lot
    expect(parseAnalyzeRows(JSON.stringify([good, { ...good, json_field: 'NoNewPrivileges', weight: 'x' }]))).toBeUndefined();
  });

  it('refuses a check reported twice, takes JSON.parse\'s last value of a key given twice', () => {
    expect(parseAnalyzeRows(JSON.stringify([good, { ...good, weight: 5 }]))).toBeUndefined();
    expect(parseAnalyzeRows('[{"json_field":"PrivateTmp","set":false,"weight":"x","weight":1000,"range":1,"badness":1}]')).toEqual([
      { field: 'PrivateTmp', weight: 1000, range: 1, badness: 1 },
    ]);
    expect(parseAnalyzeRows('[{"json_field":"PrivateTmp","set":false,"weight":1000,"weight":"x","range":1,"badness":1}]')).toBeUndefined();
  });

  it('refuses output without weights (SYSTEMD_ANALYZE_DEBUG unset), non-arrays, huge and empty texts', () => {
    const plain = (JSON.parse(text('252.json')) as Record<string, unknown>[]).map(({ weight: _w, badness: _b, range: _r, ...rest }) => rest);
    expect(parseAnalyzeRows(JSON.stringify(plain))).toBeUndefined();
    for (const t of ['', '[]', '{}', 'null', '[1]', '[null]', '[[]]', 'not json', '[{"json_field":"A"', '"[]"', JSON.stringify([{ ...good, weight: 0 }])]) {
      expect([t, parseAnalyzeRows(t)]).toEqual([t, undefined]);
    }
    for (const t of [undefined, null, 42, {}, [good]]) expect(parseAnalyzeRows(t)).toBeUndefined();
    // bigger than any analyze prints: not even parsed
    expect(parseAnalyzeRows(JSON.stringify([good]) + ' '.repeat(1 << 20))).toBeUndefined();
    expect(parseAnalyzeRows(JSON.stringify(Array.from({ length: 1025 }, (_, i) => ({ ...good, json_field: `F${i}` }))))).toBeUndefined();
  });

  it('never throws and never yields a row outside its bounds, whatever JSON it gets', () => {
    const row = fc.record({
      set: fc.oneof(fc.boolean(), fc.constant(null), fc.string()),
      json_field: fc.oneof(fc.constantFrom('PrivateTmp', 'SystemCallFilter_mount', '__proto__'), fc.string()),
      weight: fc.oneof(fc.integer(), fc.double(), fc.string()),
      range: fc.oneof(fc.integer({ min: -2, max: 20 }), fc.double()),
      badness: fc.oneof(fc.integer({ min: -2, max: 30 }), fc.double(), fc.constant(null)),
    }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof(fc.array(row, { maxLength: 5 }), fc.jsonValue()), (v) => {
        const rows = parseAnalyzeRows(JSON.stringify(v));
        for (const r of rows ?? []) {
          expect(Number.isSafeInteger(r.weight) && Number.isSafeInteger(r.range) && r.range >= 1).toBe(true);
          if (r.badness !== undefined) expect(r.badness >= 0 && r.badness <= r.range).toBe(true);
        }
      }),
    );
  });
});

describe('settings in force that the score does not count', () => {
  const s = (option: string, value = 'yes') => ({ option, value });
  const accepted = [
    s('PrivateTmp', 'disconnected'), s('ProtectSystem', 'strict'), s('PrivateIPC'), s('SocketBindDeny', 'any'), s('SocketBindAllow', 'tcp:80'),
    s('RestrictFileSystems', 'ext4 tmpfs'), s('RestrictNetworkInterfaces', 'lo'), s('PrivatePIDs'), s('ProtectControlGroups', 'strict'), s('NoNewPrivileges'),
  ];
  const expected = [
    { option: 'PrivateTmp', value: 'disconnected', scoredAs: 'yes' }, s('PrivateIPC'), s('SocketBindDeny', 'any'), s('SocketBindAllow', 'tcp:80'),
    s('RestrictFileSystems', 'ext4 tmpfs'), s('RestrictNetworkInterfaces', 'lo'), s('PrivatePIDs'), { option: 'ProtectControlGroups', value: 'strict', scoredAs: 'yes' },
  ];

  it('by the running analyze\'s checks (252, 257 and 262 alike)', () => {
    expect(unscoredSettings(accepted, scoredBy(rowsOf('252.json'), CATALOG))).toEqual(expected);
    expect(unscoredSettings(accepted, scoredBy(rowsOf('257.json'), CATALOG))).toEqual(expected);
    expect(unscoredSettings(accepted, scoredBy(rowsOf('262.json'), CATALOG))).toEqual(expected);
  });

  it('by the catalog (weight 0, and the options no version scores) when the checks are unknown', () => {
    expect(unscoredSettings(accepted, scoredBy(undefined, CATALOG))).toEqual(expected);
  });

  it('a check a local policy weighs 0 counts for nothing', () => {
    const rows = rowsOf('252.json').map((r) => (r.field === 'NoNewPrivileges' ? { ...r, weight: 0 } : r));
    expect(unscoredSettings([s('NoNewPrivileges'), s('PrivateTmp')], scoredBy(rows, CATALOG))).toEqual([s('NoNewPrivileges')]);
  });

  it('odd option names and values are no keys into anything', () => {
    const scored = scoredBy(rowsOf('252.json'), CATALOG);
    expect(unscoredSettings([s('__proto__', 'toString'), s('PrivateTmp', 'constructor')], scored)).toEqual([s('__proto__', 'toString')]);
  });
});

describe('the report lists them; tune prints them; --json carries them', () => {
  const base = {
    unit: 'web.service', exposureBefore: 9.6, exposureAfter: 4.2, trials: 1, restarts: 2, durationMs: 10, warnings: [], safety: new Map<string, string>(),
  };
  const set = (option: string, value: string): Setting => ({ option, value, lines: [`${option}=${value}`] });
  const events = [
    { kind: 'trial-begin' as const, trial: 1, settings: [set('PrivateTmp', 'yes'), set('PrivateIPC', 'yes')] },
    { kind: 'trial-end' as const, trial: 1, settings: [set('PrivateTmp', 'yes'), set('PrivateIPC', 'yes')], outcome: 'accepted' as const, verdict: 'ok', reason: 'ok', evidence: [] },
    { kind: 'judged' as const, trial: 1, ineffective: [] },
  ];

  it('foldReport: listed when the session knows what is scored, absent when not', () => {
    expect(foldReport({ ...base, scored: scoredBy(rowsOf('252.json'), CATALOG) }, events).unscored).toEqual([{ option: 'PrivateIPC', value: 'yes' }]);
    expect(foldReport(base, events)).not.toHaveProperty('unscored');
  });

  it('text: one line after the lists; none when nothing is unscored or the report predates the field', () => {
    const r = foldReport({ ...base, scored: scoredBy(rowsOf('252.json'), CATALOG) }, events);
    const out = formatTuneReport({ ...r, unscored: [...r.unscored!, { option: 'PrivateTmp', value: 'disconnected', scoredAs: 'yes' }] });
    expect(out.split('\n')).toContain('In force, not counted by systemd-analyze: PrivateIPC=yes PrivateTmp=disconnected (scored as yes)');
    expect(formatTuneReport({ ...r, unscored: [] })).not.toMatch(/not counted/);
    const { unscored: _, ...old } = r;
    expect(formatTuneReport(old)).not.toMatch(/not counted/);
    // status UNIT of an enrolled unit prints its stored report: the store keeps the field, and loads reports stored before it
    const stored = enrollmentSchema.shape.report.parse(JSON.parse(JSON.stringify(r)));
    expect(stored?.unscored).toEqual([{ option: 'PrivateIPC', value: 'yes' }]);
    expect(enrollmentSchema.shape.report.parse(JSON.parse(JSON.stringify(old)))).not.toHaveProperty('unscored');
    // --json prints the report object: the field is there, additive
    expect(JSON.parse(JSON.stringify(r))).toMatchObject({ unscored: [{ option: 'PrivateIPC', value: 'yes' }], accepted: [{ option: 'PrivateTmp' }, { option: 'PrivateIPC' }] });
  });
});

describe('a tune reads the checks once through its port, orders by them, and reports by them', () => {
  const specs = ['PrivateTmp', 'ProtectHome', 'PrivateIPC'].map((n) => optionByName(n)!);
  const run = async (rows: AnalyzeRows | undefined | 'no-port') => {
    let reads = 0;
    const messages: string[] = [];
    // systemd reads back what the drop-ins say (ProtectHome is a string property, the others booleans)
    const d = memoryDropIns('sim.service');
    let eff: Record<string, unknown> = {};
    const reload = async () => {
      const kv = [...d.accepted, ...d.trial].flatMap((x) => x.lines).map((l) => l.split('=') as [string, string]);
      eff = Object.fromEntries(kv.map(([k, v]) => [k, k === 'ProtectHome' ? v : v === 'yes']));
    };
    const ports = fakePorts('sim.service', {
      dropins: d, systemd: { reload, serviceProperties: async () => ({ ...eff }) as never }, progress: (e) => void (e.type === 'info' && messages.push(e.message)),
    });
    const withRows = rows === 'no-port' ? ports : { ...ports, exposureRows: async () => (reads++, rows) };
    const report = await tune(withRows, { unit: 'sim.service', probes: [], settleMs: 100, strategy: 'one-at-a-time', persist: false, declarations: { allowNet: [], localOnly: false, confineSessions: false } }, specs);
    // first trial of each option (a ladder walks down its rungs)
    const order = [...new Set(ports.journal.read().flatMap((r) => (r.kind === 'trial-begin' ? r.settings.map((s) => s.option) : [])))];
    return { report, reads, order, messages };
  };

  it('252 weights: PrivateTmp (1000 × 0.9) before ProtectHome (1000 × 0.85); the weight-0 PrivateIPC last and reported unscored', async () => {
    const r = await run(rowsOf('252.json'));
    expect(r.reads).toBe(2); // at the start (the weights), and at the end for `report` (the checks after)
    expect(r.order).toEqual(['PrivateTmp', 'ProtectHome', 'PrivateIPC']);
    expect(r.report.unscored).toEqual([{ option: 'PrivateIPC', value: 'yes' }]);
  });

  it('a policy that weighs ProtectHome 5000 puts it first', async () => {
    const rows = rowsOf('252.json').map((x) => (x.field === 'ProtectHome' ? { ...x, weight: 5000 } : x));
    expect((await run(rows)).order).toEqual(['ProtectHome', 'PrivateTmp', 'PrivateIPC']);
  });

  it('unreadable checks: the catalog weights stand, said once; the unscored list comes from the catalog', async () => {
    const r = await run(undefined);
    expect(r.order).toEqual(['PrivateTmp', 'ProtectHome', 'PrivateIPC']);
    expect(r.messages.filter((m) => /check weights/.test(m))).toHaveLength(1);
    expect(r.report.unscored).toEqual([{ option: 'PrivateIPC', value: 'yes' }]);
    expect((await run('no-port')).messages.join(' ')).not.toMatch(/check weights/);
  });
});
