// What may reach a drop-in: `Key=value` on one line, the key one autoharden writes, the value
// nothing systemd would read as more than that value. Checked when a drop-in is rendered, whatever
// the settings came from (a tuner's rung, a journal record), and by parsers at the edges. Pure.
import { CATALOG } from './catalog.js';
import { AutohardenError } from './errors.js';
import { shown } from './text.js';
import type { Setting } from './types.js';

/** The keys autoharden writes: the catalog's rung lines, learned paths, the IP allow/deny lines the
 * safety policy builds. Anything else in a drop-in is an injection. */
export const DIRECTIVE_KEYS: ReadonlySet<string> = new Set([
  ...CATALOG.flatMap((o) => o.ladder.flatMap((r) => r.lines.map((l) => l.slice(0, l.indexOf('='))))),
  'ReadWritePaths',
  'IPAddressDeny',
  'IPAddressAllow',
  'SocketBindAllow', // the ports admitSocketBind allows (core/bpfOptions.ts)
]);

// In a value, besides control characters and `%` (a systemd specifier): `\` (an escape, or a
// continuation that swallows the next directive) and quotes (systemd unquotes word lists, so they
// would move word boundaries).
const UNSAFE_VALUE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029%\\"']/;
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u2028\u2029%]/;
const LINE = /^([A-Za-z]+)=(.*)$/s;
const OPTION = /^[A-Za-z][A-Za-z0-9]*$/;

/** Why a drop-in line is not one autoharden may write, or undefined when it is. */
export function lineProblem(line: string): string | undefined {
  const m = LINE.exec(line);
  if (!m) return 'not Key=value';
  if (!DIRECTIVE_KEYS.has(m[1]!)) return `${m[1]} is not a key autoharden writes`;
  if (UNSAFE_VALUE.test(m[2]!)) return 'its value has a control character, line break, %, \\ or a quote';
  // systemd strips it, so the file would not say what autoharden meant (nor match its journal)
  if (m[2] !== m[2]!.trim()) return 'its value starts or ends with whitespace';
  return undefined;
}

/** Refuses a setting (from a rung or a journal record) that would write anything but its own
 * directives into a drop-in: AutohardenError('Config'). */
export function checkSetting(s: Setting): void {
  const bad = (why: string) => new AutohardenError('Config', `refusing to render ${shown(s.option)}=${shown(s.value)}: ${why}`);
  if (!OPTION.test(s.option)) throw bad('the option is not a directive name');
  if (UNSAFE_TEXT.test(s.value)) throw bad('the value has a control character, line break or %');
  for (const l of s.lines) {
    const why = lineProblem(l);
    if (why) throw bad(`line ${shown(l)}: ${why}`);
  }
}
