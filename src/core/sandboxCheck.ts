// Trusted evidence that a sandbox cannot be set up: a unit of autoharden's own that runs /bin/true
// as the service's user with the service's accepted settings. The service's code never runs in it,
// so whether it starts is systemd's and the kernel's word, not the service's (README, "Security: whose word counts").
// Pure: the text of that unit, and how to read its outcome.
import { createHash } from 'node:crypto';
import { checkSetting } from './directives.js';
import { MARKER } from './dropin.js';
import { describeEnd, endOf, type Cause, type UnitState } from './cause.js';
import type { EffectiveSettings, Setting, UnitSnapshot } from './types.js';

export const CHECK_UNIT_PREFIX = 'zz-autoharden-check-';

/** One check unit name per unit, without its characters (an '@' would make an instance). */
export function checkUnitName(unit: string): string {
  return `${CHECK_UNIT_PREFIX}${createHash('sha256').update(unit).digest('hex').slice(0, 12)}.service`;
}

/** The identity settings the check copies from the service: who the sandbox is set up for. */
export const IDENTITY_PROPERTIES = ['User', 'Group', 'SupplementaryGroups', 'DynamicUser'];

// User and group names as systemd accepts them (valid_user_group_name, relaxed): they come from
// the admin's unit, and still never reach a unit file unchecked.
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\$?$/;

function identityLines(eff: EffectiveSettings): string[] {
  const out: string[] = [];
  const one = (key: string, v: unknown) => {
    if (typeof v === 'string' && v !== '') {
      if (!NAME.test(v)) throw new Error(`${key}=${JSON.stringify(v)} is not a user or group name`);
      out.push(`${key}=${v}`);
    }
  };
  one('User', eff.User);
  one('Group', eff.Group);
  const groups = Array.isArray(eff.SupplementaryGroups) ? (eff.SupplementaryGroups as unknown[]) : [];
  for (const g of groups) one('SupplementaryGroups', g);
  if (eff.DynamicUser === true) out.push('DynamicUser=yes');
  return out;
}

/** The check unit's text: /bin/true as the service's user, under `settings`. */
export function renderCheckUnit(unit: string, identity: EffectiveSettings, settings: readonly Setting[]): string {
  settings.forEach(checkSetting); // the same lines a drop-in may carry, and nothing else
  return [
    MARKER,
    `# Sandbox check of ${unit}: its accepted settings around /bin/true. Removed after the check.`,
    '[Unit]',
    `Description=autoharden sandbox check of ${unit}`,
    'DefaultDependencies=no',
    '',
    '[Service]',
    'Type=oneshot',
    'ExecStart=/bin/true',
    ...identityLines(identity),
    ...settings.flatMap((s) => s.lines),
    // NoExecPaths=/ with the service's own ExecPaths= would forbid /bin/true itself: the check
    // asks whether the sandbox sets up, not whether /bin/true may run in it
    ...(settings.some((s) => s.lines.some((l) => l.startsWith('NoExecPaths='))) ? ['ExecPaths=-/usr/bin/true -/bin/true'] : []),
    '',
  ].join('\n');
}

/** The sandbox was set up and /bin/true ran; or it was not, and `cause` says how /bin/true
 * ended. Trusted: /bin/true exits 0, so any other end is systemd's or the kernel's doing. */
export type CheckOutcome = { setUp: true; reason: string } | { setUp: false; reason: string; cause: Cause };

/** Reads the check unit's start: /bin/true exits 0 whenever the sandbox around it was set up. */
export function checkOutcome(jobResult: string, snap: UnitSnapshot): CheckOutcome {
  if (jobResult === 'done' && snap.result === 'success') return { setUp: true, reason: 'the sandbox sets up (checked with /bin/true)' };
  const end = endOf(snap.execMainCode, snap.execMainStatus);
  const state: UnitState = jobResult !== 'done' ? { kind: 'job', result: jobResult } : { kind: 'result', result: snap.result };
  const cause: Cause = end ? { ...end, process: 'main', seen: 'state', state } : { kind: 'unsettled', state };
  const what = end ? describeEnd(end) : `did not run (start job ${jobResult}, Result=${snap.result})`;
  return { setUp: false, reason: `the sandbox cannot be set up: /bin/true under it ${what}`, cause };
}

/** On systemd ≥ 256: did this invocation reach the service's own code? undefined: cannot tell. */
export function reachedServiceCode(snap: UnitSnapshot): boolean | undefined {
  if (snap.execMainHandoffMono === undefined || snap.execMainStartMono === undefined) return undefined;
  if (snap.execMainStartMono === 0) return undefined;
  return snap.execMainHandoffMono >= snap.execMainStartMono;
}
