// The attack battery's contract (issue 15): the technique list against the C program's, and its
// output read defensively — it crosses the sandbox it probes, so hostile outputs are the point.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BATTERY_TECHNIQUE_MS,
  BATTERY_TOTAL_MS,
  MAX_BATTERY_OUTPUT,
  TECHNIQUES,
  TECHNIQUE_IDS,
  batteryArgs,
  blockedText,
  blockingDirectives,
  compareAudits,
  parseBatteryOutput,
  summarise,
  techniqueById,
  type AuditOutcome,
  type TechniqueResult,
} from '../../src/core/audit.js';

const C_SOURCE = readFileSync(join(import.meta.dirname, '../../audit/autoharden-battery.c'), 'utf8');

/** A battery's stdout: every technique, `possible` unless `outcomes` says otherwise. */
function output(outcomes: Record<string, AuditOutcome> = {}, o: { done?: boolean } = {}): string {
  const lines = TECHNIQUE_IDS.map((id) => JSON.stringify({ id, outcome: outcomes[id] ?? 'possible', detail: 'x' }));
  if (o.done !== false) lines.push(JSON.stringify({ done: true, count: TECHNIQUE_IDS.length }));
  return lines.map((l) => `${l}\n`).join('');
}
const line = (id: string, outcome: string, detail = 'd') => `${JSON.stringify({ id, outcome, detail })}\n`;
const doneLine = (count: number) => `{"done":true,"count":${count}}\n`;
const result = (run: ReturnType<typeof parseBatteryOutput>, id: string) => run.results.find((r) => r.id === id);

describe('technique list', () => {
  it('has unique kebab-case ids, each described with what blocks it', () => {
    expect(new Set(TECHNIQUE_IDS).size).toBe(TECHNIQUE_IDS.length);
    for (const t of TECHNIQUES) {
      expect(t.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(t.title.length).toBeGreaterThan(10);
      expect(t.proof.length).toBeGreaterThan(10);
      expect(t.blockedBy.length).toBeGreaterThan(0);
    }
    expect(TECHNIQUE_IDS).toEqual(expect.arrayContaining(['write-etc', 'read-shadow', 'exec-tmp', 'exec-state', 'load-module', 'setuid-binary', 'see-processes']));
  });

  it('is the C battery\'s list, in its order, with its time bounds', () => {
    const table = C_SOURCE.slice(C_SOURCE.indexOf('BATTERY[] = {'));
    const ids = [...table.slice(0, table.indexOf('};')).matchAll(/^\s*(?:TX?\(|\{ )"([a-z-]+)"/gm)].map((m) => m[1]);
    expect(ids).toEqual(TECHNIQUE_IDS);
    expect(C_SOURCE).toMatch(new RegExp(`#define TECHNIQUE_MS ${BATTERY_TECHNIQUE_MS}\\b`));
    expect(C_SOURCE).toMatch(new RegExp(`#define TOTAL_MS ${BATTERY_TOTAL_MS}\\b`));
  });

  it('names the unit directives that block a technique, not host sysctls or notes', () => {
    expect(blockingDirectives(techniqueById('write-etc')!)).toEqual(['ProtectSystem', 'ReadOnlyPaths', 'InaccessiblePaths', 'User', 'DynamicUser']);
    expect(blockingDirectives(techniqueById('exec-memfd')!)).toEqual(['SystemCallFilter']);
    expect(blockingDirectives(techniqueById('exec-tmp')!)).toEqual(expect.arrayContaining(['NoExecPaths', 'ExecPaths', 'ProtectSystem', 'PrivateTmp']));
    expect(techniqueById('no-such')).toBeUndefined();
  });
});

describe('parseBatteryOutput', () => {
  it('reads a complete run in battery order', () => {
    const run = parseBatteryOutput(output({ 'write-etc': 'blocked', 'connect-out': 'skipped', 'mount': 'error' }));
    expect(run.complete).toBe(true);
    expect(run.problems).toEqual([]);
    expect(run.missing).toEqual([]);
    expect(run.results.map((r) => r.id)).toEqual(TECHNIQUE_IDS);
    expect(result(run, 'write-etc')).toEqual({ id: 'write-etc', outcome: 'blocked', detail: 'x' });
    expect(result(run, 'connect-out')!.outcome).toBe('skipped');
  });

  it('takes lines in any order and a missing final newline', () => {
    const text = output({ 'read-root': 'blocked' }).trimEnd().split('\n').reverse();
    const done = text.shift()!;
    const run = parseBatteryOutput([...text, done].join('\n'));
    expect(run.complete).toBe(true);
    expect(result(run, 'read-root')!.outcome).toBe('blocked');
  });

  it('marks a run without its done line incomplete, keeping what was reported', () => {
    const run = parseBatteryOutput(output({ 'wx-memory': 'blocked' }, { done: false }));
    expect(run.complete).toBe(false);
    expect(run.problems.join('\n')).toMatch(/no done line/);
    expect(result(run, 'wx-memory')!.outcome).toBe('blocked');
  });

  it('reports a technique not reported as an error, never as blocked', () => {
    const text = line('write-etc', 'blocked') + doneLine(1);
    const run = parseBatteryOutput(text);
    expect(run.complete).toBe(false);
    expect(run.missing).toHaveLength(TECHNIQUE_IDS.length - 1);
    expect(result(run, 'write-usr')).toEqual({ id: 'write-usr', outcome: 'error', detail: 'not reported' });
    expect(summarise(run.results).blocked).toBe(1);
  });

  it('counts an id reported twice as an error, even "blocked" then "possible"', () => {
    for (const [first, second] of [['possible', 'possible'], ['blocked', 'possible'], ['possible', 'blocked']]) {
      const text = output().replace(line('read-shadow', 'possible', 'x'), line('read-shadow', first!) + line('read-shadow', second!));
      const run = parseBatteryOutput(text);
      expect(result(run, 'read-shadow')).toEqual({ id: 'read-shadow', outcome: 'error', detail: 'reported more than once' });
      expect(run.complete).toBe(false);
      expect(run.problems.join('\n')).toMatch(/read-shadow reported more than once/);
    }
  });

  it('reports and ignores unknown ids (a forged "blocked" for a technique that does not exist)', () => {
    const text = line('disable-the-audit', 'blocked') + line('__proto__', 'blocked') + line('constructor', 'blocked') + output();
    const run = parseBatteryOutput(text);
    expect(run.results.map((r) => r.id)).toEqual(TECHNIQUE_IDS);
    expect(run.problems.join('\n')).toMatch(/unknown technique "disable-the-audit"/);
    expect(run.problems.join('\n')).toMatch(/unknown technique "__proto__"/);
    expect(run.problems.join('\n')).toMatch(/done line counts 27 techniques, 30 were reported/);
    expect(run.complete).toBe(false);
    expect(summarise(run.results).blocked).toBe(0);
  });

  it('ignores lines after the done line', () => {
    const run = parseBatteryOutput(output({ 'mount': 'possible' }) + line('mount', 'blocked'));
    expect(result(run, 'mount')!.outcome).toBe('possible');
    expect(run.complete).toBe(false);
    expect(run.problems.join('\n')).toMatch(/after the done line/);
  });

  it('refuses a done line that does not match the count', () => {
    const text = output().replace(doneLine(TECHNIQUE_IDS.length), doneLine(3));
    const run = parseBatteryOutput(text);
    expect(run.complete).toBe(false);
    expect(run.problems.join('\n')).toMatch(/counts 3 techniques, 27 were reported/);
    for (const bad of ['{"done":false,"count":27}', '{"done":true,"count":-1}', '{"done":true,"count":1.5}', '{"done":"true","count":27}']) {
      const r = parseBatteryOutput(output({}, { done: false }) + bad + '\n');
      expect(r.complete).toBe(false);
      expect(r.problems.join('\n')).toMatch(/malformed done line/);
    }
  });

  it('reports malformed lines and does not count them', () => {
    const bad = [
      'not json',
      '["write-etc","blocked"]',
      '"write-etc"',
      'null',
      '{"id":"write-etc","outcome":"BLOCKED","detail":""}',
      '{"id":"write-etc","outcome":"blocked"}',
      '{"id":"write-etc","outcome":"blocked","detail":"","extra":1}',
      '{"id":"write-etc","outcome":"blocked","detail":"","__proto__":{"x":1}}',
      '{"id":7,"outcome":"blocked","detail":""}',
      '{"id":"write-etc","outcome":"blocked","detail":{"toString":1}}',
      '',
    ];
    const text = bad.join('\n') + '\n' + output({ 'write-etc': 'possible' });
    const run = parseBatteryOutput(text);
    expect(result(run, 'write-etc')!.outcome).toBe('possible');
    expect(run.complete).toBe(false);
    expect(run.problems.filter((p) => /^line \d+:/.test(p))).toHaveLength(bad.length);
  });

  it('bounds the text, each line and the problems it lists', () => {
    const huge = 'x'.repeat(MAX_BATTERY_OUTPUT * 4);
    const r1 = parseBatteryOutput(huge);
    expect(r1.complete).toBe(false);
    expect(r1.problems.join('\n')).toMatch(/longer than 65536 characters/);
    expect(r1.problems.join('\n').length).toBeLessThan(2000);

    const longDetail = line('read-home', 'blocked', 'y'.repeat(5000));
    const r2 = parseBatteryOutput(longDetail + output({}).replace(line('read-home', 'possible', 'x'), ''));
    expect(result(r2, 'read-home')).toEqual({ id: 'read-home', outcome: 'error', detail: 'not reported' });
    expect(r2.problems.join('\n')).toMatch(/line 1: longer than 1024/);

    const junk = Array.from({ length: 5000 }, (_, i) => `junk ${i}`).join('\n');
    const r3 = parseBatteryOutput(junk + '\n' + output());
    expect(r3.problems.length).toBeLessThanOrEqual(21);
    expect(r3.results.every((r) => r.outcome === 'possible')).toBe(true);

    // real output beyond the bound is not read: a blocked line hidden after megabytes of padding
    const padded = parseBatteryOutput(`${' '.repeat(MAX_BATTERY_OUTPUT)}\n${output({ 'wx-memory': 'blocked' })}`);
    expect(result(padded, 'wx-memory')!.outcome).toBe('error');
  });

  it('flattens and shortens details (no escape sequences or line breaks reach a terminal)', () => {
    const text = output().replace(line('see-processes', 'possible', 'x'), line('see-processes', 'blocked', '\u001b[31mred\u001b[0m\nnext\u2028line' + 'z'.repeat(400)));
    const d = result(parseBatteryOutput(text), 'see-processes')!.detail;
    expect(d).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(d).toMatch(/^\[31mred \[0m next linez+…$/);
    expect(d.length).toBe(200);
  });

  it('takes only a string', () => {
    for (const v of [undefined, null, 42, Buffer.from(output()), { toString: () => output() }]) {
      const run = parseBatteryOutput(v);
      expect(run.complete).toBe(false);
      expect(run.results.every((r) => r.outcome === 'error')).toBe(true);
    }
  });
});

describe('summarise and compareAudits', () => {
  const all = (o: AuditOutcome): TechniqueResult[] => TECHNIQUE_IDS.map((id) => ({ id, outcome: o, detail: '' }));

  it('counts outcomes; skipped ones leave the denominator', () => {
    const run = parseBatteryOutput(output({ 'write-etc': 'blocked', 'write-usr': 'blocked', 'connect-out': 'skipped', 'exec-state': 'skipped', 'mount': 'error' }));
    const s = summarise(run.results);
    expect(s).toMatchObject({ blocked: 2, possible: 22, skipped: 2, error: 1, total: 27, applicable: 25 });
    expect(s.byId['write-etc']!.outcome).toBe('blocked');
    expect(blockedText(s)).toBe('blocked 2/25');
  });

  it('counts an id listed twice once, as an error', () => {
    const s = summarise([
      { id: 'mount', outcome: 'blocked', detail: '' },
      { id: 'mount', outcome: 'blocked', detail: '' },
      { id: 'wx-memory', outcome: 'possible', detail: '' },
    ]);
    expect(s).toMatchObject({ blocked: 0, possible: 1, error: 1, total: 2 });
  });

  it('lists what moved, in battery order, and the line "blocked 4/18 → 15/18"', () => {
    const ids = TECHNIQUE_IDS.slice(0, 18);
    const res = (blocked: number, extra: Record<string, AuditOutcome> = {}) =>
      summarise(ids.map((id, i) => ({ id, outcome: extra[id] ?? (i < blocked ? 'blocked' : 'possible'), detail: '' })));
    const before = res(4);
    const after = res(15, { [ids[0]!]: 'possible', [ids[16]!]: 'blocked' });
    const c = compareAudits(before, after);
    expect(c.line).toBe('blocked 4/18 → 15/18');
    expect(c.opened).toEqual([ids[0]]);
    expect(c.closed).toEqual([...ids.slice(4, 15), ids[16]]);
    expect(c.moved.map((m) => m.id)).toEqual([ids[0], ...ids.slice(4, 15), ids[16]]);
    expect(c.moved[0]).toEqual({ id: ids[0], before: 'blocked', after: 'possible' });
  });

  it('reports techniques present in only one run as absent in the other', () => {
    const before = summarise(all('possible').filter((r) => r.id !== 'read-disk'));
    const after = summarise([...all('possible').filter((r) => r.id !== 'mount'), { id: 'from-a-newer-battery', outcome: 'blocked', detail: '' }]);
    const c = compareAudits(before, after);
    expect(c.moved).toEqual([
      { id: 'mount', before: 'possible', after: 'absent' },
      { id: 'read-disk', before: 'absent', after: 'possible' },
      { id: 'from-a-newer-battery', before: 'absent', after: 'blocked' },
    ]);
    expect(c.closed).toEqual(['from-a-newer-battery']);
  });

  it('is empty for identical runs; error → blocked closes, blocked → error does not open', () => {
    expect(compareAudits(summarise(all('blocked')), summarise(all('blocked'))).moved).toEqual([]);
    const c = compareAudits(summarise(all('error')), summarise(all('blocked')));
    expect(c.closed).toHaveLength(TECHNIQUE_IDS.length);
    expect(compareAudits(summarise(all('blocked')), summarise(all('error'))).opened).toEqual([]);
  });
});

describe('batteryArgs', () => {
  it('passes plain absolute state directories and numeric peers', () => {
    expect(batteryArgs()).toEqual([]);
    expect(batteryArgs({ stateDirs: ['/var/lib/nginx', '/run/nginx'], peer: '10.251.0.2:8080' }))
      .toEqual(['--state', '/var/lib/nginx', '--state', '/run/nginx', '--peer', '10.251.0.2:8080']);
    expect(batteryArgs({ peer: '[fd00::1]:443' })).toEqual(['--peer', '[fd00::1]:443']);
  });

  it('refuses what the battery would refuse', () => {
    for (const d of ['relative', '/', '/var/lib/', '/var//lib', '/var/../etc', '/var/./lib', '/a b', '/a\nb', '/a%b', `/${'a'.repeat(200)}`, '/a;b']) {
      expect(() => batteryArgs({ stateDirs: [d] }), d).toThrow(/not an absolute plain path/);
    }
    expect(() => batteryArgs({ stateDirs: Array.from({ length: 9 }, (_, i) => `/d${i}`) })).toThrow(/at most 8/);
    for (const p of ['example.com:80', '10.0.0.1', '10.0.0.1:0', '10.0.0.1:65536', '300.0.0.1:80', '010.0.0.1:80', '::1:80', '[::1]', '[nothex]:80', '10.0.0.1:80\n']) {
      expect(() => batteryArgs({ peer: p }), p).toThrow(/--peer/);
    }
  });
});
