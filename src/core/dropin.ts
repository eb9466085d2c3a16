// The drop-in files autoharden writes. Only files named zz-autoharden-* whose first line is the
// marker are ours; everything else is the vendor's or the admin's and is never touched.
import { checkSetting } from './directives.js';
import { AutohardenError } from './errors.js';
import { shown } from './text.js';
import type { Setting } from './types.js';
import { parseUnitName } from './unitName.js';

export const MARKER = '# Managed by autoharden';
export const TRIAL_FILE = 'zz-autoharden-90-trial.conf';
export const ACCEPTED_FILE = 'zz-autoharden-50-accepted.conf';

export function isOurs(text: string): boolean {
  return text.split('\n', 1)[0] === MARKER;
}

/** Renders settings as a drop-in a person can read, commit and ship. Every line is checked first
 * (core/directives.ts), so a setting from a tampered journal record is refused, not written:
 * AutohardenError('Config'). */
export function renderDropIn(unit: string, settings: readonly Setting[], purpose: 'trial' | 'accepted', observe: readonly string[] = []): string {
  checkUnit(unit);
  settings.forEach(checkSetting);
  observe.forEach(checkObserveLine);
  const head = [
    MARKER,
    purpose === 'trial'
      ? `# Candidate under trial for ${unit}; removed when the trial ends.`
      : `# Hardening of ${unit} accepted by trial. Review: autoharden journal ${unit}`,
    `# Roll back: autoharden rollback ${unit} --option NAME | --all`,
    '',
    '[Service]',
  ];
  const body = settings.flatMap((s) => [`# ${s.option}=${s.value}`, ...s.lines]);
  const watch = observe.length ? ['# Observation only, not a candidate: the kernel logs these calls and denies none', ...observe] : [];
  return [...head, ...body, ...watch, ''].join('\n');
}

/** A trial may carry SystemCallLog= lines (engine/tune/syscallWatch.ts): groups only, nothing else. */
const OBSERVE_LINE = /^SystemCallLog=(?:@[a-z][a-z-]{0,31} ?){1,8}$/;
function checkObserveLine(line: string): void {
  if (!OBSERVE_LINE.test(line)) throw new AutohardenError('Config', `refusing to write ${shown(line)} into a trial: not an observation line`);
}

/** The unit name goes into the header comments: only a valid, complete one. */
function checkUnit(unit: string): void {
  let ok = false;
  try {
    ok = parseUnitName(unit) === unit;
  } catch {
    // refused below
  }
  if (!ok) throw new AutohardenError('Config', `refusing to render a drop-in for ${shown(unit)}: not a unit name`);
}
