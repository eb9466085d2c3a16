// `autoharden scan`: every service systemd has loaded, with its exposure now, the exposure plan
// predicts, and what autoharden did with it; ranked worst first, with a threshold for CI gates.
// Pure: the listing is what `systemd-analyze security --json=short` prints with no unit.
import { AutohardenError } from './errors.js';
import { parseUnitName } from './unitName.js';
import { parseJsonText } from './text.js';

export interface ListedUnit {
  unit: string;
  exposure: number;
}

/** 252–262 print about 100 bytes a unit. */
const MAX_TEXT = 4 << 20;
const MAX_UNITS = 20_000;
const UNIT = /^[A-Za-z0-9:_.\\@-]{1,255}\.service$/;
const EXPOSURE = /^\d{1,2}(\.\d)?$/;

/** The services of the listing `[{"unit":"nginx.service","exposure":"9.6",…},…]`. Undefined when
 * the text is not such an array; a row that is garbled (a name that is no service, an exposure
 * that is no score from 0 to 10) is left out, not guessed. */
export function parseAnalyzeListing(text: unknown): ListedUnit[] | undefined {
  const json = parseJsonText(text, MAX_TEXT);
  if (!Array.isArray(json) || json.length > MAX_UNITS) return undefined;
  const out: ListedUnit[] = [];
  const seen = new Set<string>();
  for (const r of json) {
    if (typeof r !== 'object' || r === null) continue;
    const { unit, exposure } = r as Record<string, unknown>;
    const score = typeof exposure === 'number' ? String(exposure) : exposure;
    if (typeof unit !== 'string' || !UNIT.test(unit) || typeof score !== 'string' || !EXPOSURE.test(score)) continue;
    const n = Number(score);
    if (n > 10 || seen.has(unit)) continue;
    seen.add(unit);
    out.push({ unit, exposure: n });
  }
  return out;
}

/** never-tuned, or the state `status` gives (queued, tuning, guarding, failed, tuned, interrupted). */
export type ScanState = 'never-tuned' | 'queued' | 'tuning' | 'guarding' | 'failed' | 'tuned' | 'interrupted';

export interface ScanRow {
  unit: string;
  /** systemd-analyze's score now. */
  exposure: number;
  /** What plan predicts a tune reaches (the priors holding); null when there is no prediction. */
  predicted: number | null;
  /** The score if every strongest rung is accepted. */
  best: number | null;
  state: ScanState;
  /** ActiveState. */
  active: string;
  /** Why autoharden never restarts it (protectedUnits.ts); such a unit is listed, never gated. */
  protected?: string;
  /** Why there is no prediction (not running, protected, unreadable). */
  note?: string;
  /** Matched an --ignore pattern: listed, never gated. */
  ignored?: boolean;
  /** scan --audit: the attack battery in its sandbox (core/audit.ts), or why it was not run. */
  audit?: ScanAudit;
}

/** The battery's counts for one unit, or why there are none (not running, a template, a context
 * the audit cannot carry, an incomplete run). */
export type ScanAudit = { blocked: number; applicable: number; possible: string[] } | { reason: string };

/** "blocked 10/27", or "-" when the unit was not audited. */
export const auditCell = (a: ScanAudit | undefined): string => (a && 'blocked' in a ? `blocked ${a.blocked}/${a.applicable}` : '-');

/** A unit the battery can be run for, or why not: only a running unit has a context to carry, and
 * a template (name@.service) is never one. */
export function auditable(unit: string, active: string): string | undefined {
  if (/@\.service$/.test(unit)) return 'a template: no instance to audit';
  if (active !== 'active') return `not running (${active}): no execution context to carry`;
  return undefined;
}

/** Settings without which the battery would not run in the unit's context (it would probe the
 * host's tree, not the unit's image or root directory): such a unit is not audited. */
export const AUDIT_NEEDS_CARRIED: readonly string[] = ['RootDirectory', 'RootImage', 'MountImages', 'ExtensionImages', 'ExtensionDirectories'];

/** Worst first: exposure now, then what would stay after a tune, then the name. */
export function rankScan(rows: readonly ScanRow[]): ScanRow[] {
  return [...rows].sort((a, b) => b.exposure - a.exposure || (b.predicted ?? b.exposure) - (a.predicted ?? a.exposure) || a.unit.localeCompare(b.unit));
}

/** The rows a threshold gate fails on: above it, neither ignored nor protected. */
export function overThreshold(rows: readonly ScanRow[], threshold: number): ScanRow[] {
  return rows.filter((r) => r.exposure > threshold && !r.ignored && !r.protected);
}

export function parseThreshold(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 10) throw new AutohardenError('Usage', `--threshold must be an exposure from 0 to 10, not ${JSON.stringify(v).slice(0, 40)}`);
  return n;
}

const GLOB = /[*?[]/;
const GLOB_TEXT = /^[A-Za-z0-9:_.\\@*?[\]!-]{1,256}$/;

/** An --ignore pattern: a unit name (checked as any unit name is; ".service" added when it has
 * no suffix) or a shell glob over unit names (`*`, `?`, `[…]`), e.g. `getty@*` or `*-backup.service`. */
export function ignoreMatcher(patterns: readonly string[]): (unit: string) => boolean {
  const exact = new Set<string>();
  const globs: RegExp[] = [];
  for (const p of patterns) {
    if (!GLOB.test(p)) {
      exact.add(parseUnitName(p));
      continue;
    }
    if (!GLOB_TEXT.test(p)) throw new AutohardenError('Usage', `bad --ignore pattern ${JSON.stringify(p).slice(0, 80)}: a unit name or a glob of one (* ? [...])`);
    globs.push(globRegExp(p));
  }
  return (unit) => exact.has(unit) || globs.some((g) => g.test(unit) || g.test(unit.replace(/\.service$/, '')));
}

/** fnmatch without slashes: `*` any run, `?` one character, `[…]` a class (`[!…]` negated). */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      const neg = body.startsWith('!');
      if (neg) body = body.slice(1);
      re += `[${neg ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
