// Text a user or a record supplies, checked before it can reach a line autoharden writes (a drop-in,
// a journal record, a log line) and quoted safely in messages. Pure.
import { AutohardenError, type ErrorCode } from './errors.js';

/** Control characters (a newline or CR ends a line, NUL a string), C1 controls and Unicode line
 * separators (other readers break lines there). */
export const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Text a service wrote, flattened for one line on a terminal or the bus: controls become spaces. */
export function flattened(text: string): string {
  return text.replace(new RegExp(CONTROL.source, 'g'), ' ');
}

/** Text a service wrote, made safe for one line of a terminal or the journal: each control
 * character or line separator shown as an escape (`\x1b`, `\u2028`), so no escape sequence
 * reaches a terminal and no line break starts a line the text chose (a forged `<0>` priority). */
export function printable(text: string): string {
  return text.replace(new RegExp(CONTROL.source, 'g'), (c) => {
    const n = c.charCodeAt(0);
    return n > 0xff ? `\\u${n.toString(16).padStart(4, '0')}` : `\\x${n.toString(16).padStart(2, '0')}`;
  });
}

/** The text quoted for a one-line message: JSON-escaped, line separators too, shortened. */
export function shown(text: string): string {
  const s = JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
  return s.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Refuses text with a control character or line separator; `%` too unless allowed (it is a
 * systemd specifier in a unit file, but plain text in a URL or a shell command). */
export function refuseControl(text: string, what: string, o: { code?: ErrorCode; percent?: boolean } = {}): string {
  if (CONTROL.test(text) || (!o.percent && text.includes('%'))) {
    const which = o.percent ? 'a control character or line break' : 'a control character, line break or %';
    throw new AutohardenError(o.code ?? 'Usage', `${what} ${shown(text)} has ${which}; refused`);
  }
  return text;
}

/** JSON another program printed, parsed only when it is a string of at most maxChars; undefined
 * when it is not, or is no JSON. */
export function parseJsonText(text: unknown, maxChars: number): unknown {
  if (typeof text !== 'string' || text.length > maxChars) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
