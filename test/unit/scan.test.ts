// `autoharden scan`'s pure parts (core/scan.ts): the listing systemd-analyze prints for every
// service (captured from systemd 252), hostile listings, ranking, the threshold gate, --ignore.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AutohardenError, EXIT_CODES } from '../../src/core/errors.js';
import { globRegExp, ignoreMatcher, overThreshold, parseAnalyzeListing, parseThreshold, rankScan, type ScanRow } from '../../src/core/scan.js';
import { SCAN } from '../../src/app/scan.js';

const fixture = readFileSync(new URL('../fixtures/analyze-security/all-252.json', import.meta.url), 'utf8');

describe('parseAnalyzeListing', () => {
  it('reads every service of the captured listing with its score', () => {
    const rows = parseAnalyzeListing(fixture)!;
    expect(rows.length).toBe(19);
    expect(rows).toContainEqual({ unit: 'nginx.service', exposure: 9.6 });
    expect(rows).toContainEqual({ unit: 'redis-server.service', exposure: 1.1 });
    expect(rows).toContainEqual({ unit: 'postgresql@15-main.service', exposure: 9.6 });
  });

  it('refuses what is no listing, and leaves out garbled rows rather than guessing', () => {
    expect(parseAnalyzeListing('UNIT EXPOSURE PREDICATE HAPPY\nnginx.service 9.6 UNSAFE :-{')).toBeUndefined();
    expect(parseAnalyzeListing('{"unit":"a.service"}')).toBeUndefined();
    expect(parseAnalyzeListing(42)).toBeUndefined();
    expect(parseAnalyzeListing('x'.repeat(5 << 20))).toBeUndefined();
    const hostile = JSON.stringify([
      { unit: '../../etc/passwd.service', exposure: '9.6' },
      { unit: 'evil\u001b[2J.service', exposure: '9.6' },
      { unit: 'a.socket', exposure: '9.6' },
      { unit: 'b.service', exposure: '99.0' },
      { unit: 'c.service', exposure: '-1' },
      { unit: 'd.service', exposure: 'NaN' },
      { unit: 'e.service', exposure: '1e1' },
      { unit: 'ok.service', exposure: '4.6' },
      { unit: 'ok.service', exposure: '9.9' },
      null,
      'f.service',
    ]);
    expect(parseAnalyzeListing(hostile)).toEqual([{ unit: 'ok.service', exposure: 4.6 }]);
  });
});

const row = (unit: string, exposure: number, more: Partial<ScanRow> = {}): ScanRow => ({ unit, exposure, predicted: null, best: null, state: 'never-tuned', active: 'active', ...more });

describe('rankScan and overThreshold', () => {
  it('ranks worst first, then by what would stay after a tune, then by name', () => {
    const ranked = rankScan([row('b.service', 4), row('a.service', 9.6, { predicted: 3 }), row('c.service', 9.6, { predicted: 5 }), row('d.service', 9.6)]);
    expect(ranked.map((r) => r.unit)).toEqual(['d.service', 'c.service', 'a.service', 'b.service']);
  });

  it('gates on units strictly above the threshold, never on ignored or protected ones', () => {
    const rows = [row('a.service', 9.6), row('b.service', 5), row('c.service', 9.6, { ignored: true }), row('dbus.service', 9.6, { protected: 'the bus' }), row('e.service', 5.1)];
    expect(overThreshold(rows, 5).map((r) => r.unit)).toEqual(['a.service', 'e.service']);
    expect(overThreshold(rows, 9.6)).toEqual([]);
  });

  it('has its own documented exit code', () => {
    expect(EXIT_CODES.ThresholdExceeded).toBe(3);
    expect(new Set(Object.values(EXIT_CODES)).size).toBe(Object.keys(EXIT_CODES).length);
  });
});

describe('parseThreshold', () => {
  it('takes a score from 0 to 10 and refuses anything else as a usage error', () => {
    expect(parseThreshold('5')).toBe(5);
    expect(parseThreshold('7.5')).toBe(7.5);
    for (const bad of ['', ' ', '11', '-1', 'abc', 'NaN', 'Infinity']) {
      expect(() => parseThreshold(bad)).toThrow(AutohardenError);
      try {
        parseThreshold(bad);
      } catch (e) {
        expect((e as AutohardenError).code).toBe('Usage');
      }
    }
  });
});

describe('--ignore', () => {
  it('matches names (a bare name is a service) and globs, with or without the suffix', () => {
    const m = ignoreMatcher(['nginx', 'getty@*', '*-backup.service', 'redis-serve?', 'pg[0-9].service']);
    expect(m('nginx.service')).toBe(true);
    expect(m('getty@tty1.service')).toBe(true);
    expect(m('db-backup.service')).toBe(true);
    expect(m('redis-server.service')).toBe(true);
    expect(m('pg1.service')).toBe(true);
    expect(m('pgx.service')).toBe(false);
    expect(m('nginx-other.service')).toBe(false);
    expect(m('ssh.service')).toBe(false);
  });

  it('refuses a bad name or pattern as a usage error, before anything runs', () => {
    for (const bad of ['../etc', 'a/b*', 'x\n*', 'foo.bar']) expect(() => ignoreMatcher([bad])).toThrow(AutohardenError);
    expect(() => SCAN.parse({ ignore: ['../x'] })).toThrow(/invalid unit name/);
    expect(SCAN.parse({ ignore: ['ssh'], threshold: 5 })).toEqual({ ignore: ['ssh'], threshold: 5, audit: false });
  });

  it('a glob matches literally outside * ? and classes', () => {
    expect(globRegExp('a.b*').test('axb.service')).toBe(false);
    expect(globRegExp('a.b*').test('a.b.service')).toBe(true);
    expect(globRegExp('[!a]x').test('ax')).toBe(false);
    expect(globRegExp('[!a]x').test('bx')).toBe(true);
    expect(globRegExp('a[').test('a[')).toBe(true);
  });
});
