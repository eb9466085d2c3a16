import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatTimespan, parseTimespan, timespanOption } from '../../src/core/timespan.js';

describe('parseTimespan', () => {
  it('reads systemd spans', () => {
    expect(parseTimespan('2s', 'x')).toBe(2000);
    expect(parseTimespan('500ms', 'x')).toBe(500);
    expect(parseTimespan('1min 30s', 'x')).toBe(90_000);
    expect(parseTimespan('1min30s', 'x')).toBe(90_000);
    expect(parseTimespan('1.5h', 'x')).toBe(5_400_000);
    expect(parseTimespan(' 2 s ', 'x')).toBe(2000);
    expect(parseTimespan('1w 1d', 'x')).toBe(8 * 86_400_000);
  });
  it('refuses a bare number, naming the unit to add', () => {
    expect(() => parseTimespan('500', '--settle')).toThrow(/--settle: "500" has no unit; say e.g. 500ms or 500s/);
    expect(() => parseTimespan('1s 5', '--settle')).toThrow(/no unit/);
  });
  it('refuses what is not a span', () => {
    for (const bad of ['', 'abc', '2 parsecs', '-1s', '2s;rm', '1e3s', 's']) expect(() => parseTimespan(bad, 'x')).toThrow(/x: /);
  });
  it('formats what it parses back to the same milliseconds', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10 * 86_400_000 }), (ms) => parseTimespan(formatTimespan(ms), 'x') === ms));
  });
  it('bounds', () => {
    const p = timespanOption('--settle', 100, 600_000);
    expect(p('2s')).toBe(2000);
    expect(() => p('50ms')).toThrow('--settle must be from 100ms to 10min');
    expect(() => p('11min')).toThrow(/10min/);
  });
});
