// Units autoharden must never restart, by whatever name it is asked for (issue 9, item 6). Pure:
// callers hand in every name systemd knows the unit by — the requested name, its canonical Id and
// its Names, read over D-Bus after LoadUnit — so an alias (messagebus.service → dbus.service,
// dbus.service → dbus-broker.service on Fedora) is refused like the unit itself.
import { AutohardenError } from './errors.js';

const SYSTEM_BUS = 'autoharden never restarts the system bus';
const SYSTEMD = "autoharden never restarts systemd's own units";
const SELF = 'autoharden does not tune itself; its unit ships hardened';
const USER_MANAGER = "autoharden never restarts a user's service manager (it ends that user's sessions)";
// A getty's sandbox would confine the login shell an admin gets on that console, and a restart
// ends that login: hardening it buys nothing and can lock an admin out of the console.
const CONSOLE = "autoharden never restarts a console login (the admin's shell would inherit the sandbox)";

const RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^(dbus|dbus-broker|dbus-daemon|messagebus)\.(service|socket)$/, SYSTEM_BUS],
  [/^autoharden\.(service|socket)$/, SELF],
  [/^systemd-[^@]*(@[^@]*)?\.(service|socket)$/, SYSTEMD],
  [/^(init\.scope|[^/]*\.slice)$/, SYSTEMD],
  // systemd's recovery shells: the last way in when everything else is broken.
  [/^(emergency|rescue|debug-shell)\.service$/, SYSTEMD],
  [/^(user|user-runtime-dir)@[^@]*\.service$/, USER_MANAGER],
  [/^((serial-|container-)?getty|autovt)@[^@]*\.service$/, CONSOLE],
  [/^console-getty\.service$/, CONSOLE],
];

/** Why autoharden must not restart a unit known by any of `names`; undefined when it may. */
export function protectedUnitReason(names: readonly string[]): string | undefined {
  for (const name of names) {
    for (const [re, reason] of RULES) if (re.test(name)) return reason;
  }
  return undefined;
}

/** Throws AutohardenError('Usage') with one line when `requested` (or the unit it resolves to:
 * `id`, `names` from the systemd adapter) is protected. */
export function refuseProtectedUnit(verb: 'tune' | 'enroll', requested: string, unit: { id?: string; names?: readonly string[] }): void {
  const id = unit.id || requested;
  const reason = protectedUnitReason([requested, id, ...(unit.names ?? [])]);
  if (!reason) return;
  const alias = id !== requested ? ` (alias of ${id})` : '';
  throw new AutohardenError('Usage', `refusing to ${verb} ${requested}${alias}: ${reason}`.replace(/[\r\n]/g, ' '));
}
