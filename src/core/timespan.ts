// systemd's time spans ("2s", "500ms", "1min 30s", "1.5h"), as systemd.time(7) defines them, for
// --settle, --max-time and guard pause --for. Pure.
//
// One departure: a bare number is refused. systemd reads it as seconds, but autoharden's --settle
// took milliseconds before it took spans, so `--settle 500` in an old script would silently become
// an eight-minute settle. Asking for the unit costs a user two characters and removes the doubt.
import { AutohardenError } from './errors.js';

const UNIT_MS: Record<string, number> = {};
const define = (ms: number, ...names: string[]) => names.forEach((n) => (UNIT_MS[n] = ms));
define(0.001, 'usec', 'us', 'µs', 'μs');
define(1, 'msec', 'ms');
define(1000, 'seconds', 'second', 'sec', 's');
define(60_000, 'minutes', 'minute', 'min', 'm');
define(3_600_000, 'hours', 'hour', 'hr', 'h');
define(86_400_000, 'days', 'day', 'd');
define(604_800_000, 'weeks', 'week', 'w');
define(2_629_800_000, 'months', 'month', 'M'); // 30.44 days, as systemd has it
define(31_557_600_000, 'years', 'year', 'y'); // 365.25 days

// A number, optional blanks, a unit; repeated with optional blanks between parts.
const PART = /^(\d+(?:\.\d+)?|\.\d+)[ \t]*([a-zA-Zµμ]+)/;

/** Milliseconds in a systemd time span; throws a Usage error naming `what` on anything else. */
export function parseTimespan(text: string, what: string): number {
  let rest = text.trim();
  if (rest === '') throw new AutohardenError('Usage', `${what}: empty time span`);
  let ms = 0;
  while (rest !== '') {
    const m = PART.exec(rest);
    if (!m) {
      const bare = /^\d+(?:\.\d+)?$/.test(rest);
      throw new AutohardenError('Usage', bare
        ? `${what}: ${JSON.stringify(text)} has no unit; say e.g. ${rest}ms or ${rest}s`
        : `${what}: ${JSON.stringify(text)} is not a time span (e.g. 500ms, 2s, 1min 30s)`);
    }
    const factor = UNIT_MS[m[2]!];
    if (factor === undefined) throw new AutohardenError('Usage', `${what}: unknown time unit ${JSON.stringify(m[2])} in ${JSON.stringify(text)}`);
    ms += Number(m[1]) * factor;
    rest = rest.slice(m[0].length).trimStart();
  }
  if (!Number.isFinite(ms)) throw new AutohardenError('Usage', `${what}: ${JSON.stringify(text)} is too long`);
  return Math.round(ms);
}

/** A commander parser: a span within [minMs, maxMs]. */
export function timespanOption(what: string, minMs: number, maxMs: number) {
  return (v: string): number => {
    const ms = parseTimespan(v, what);
    if (ms < minMs || ms > maxMs) throw new AutohardenError('Usage', `${what} must be from ${formatTimespan(minMs)} to ${formatTimespan(maxMs)}`);
    return ms;
  };
}

/** "1min 30s", "500ms": the largest units first, as systemd prints spans. */
export function formatTimespan(ms: number): string {
  if (ms === 0) return '0';
  const parts: string[] = [];
  let left = Math.round(ms);
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(left / size);
    if (n > 0) parts.push(`${n}${unit}`);
    left -= n * size;
  }
  return parts.join(' ');
}
