// Unit names follow systemd's grammar (src/basic/unit-name.c: unit_name_is_valid) and are checked
// before they ever become part of a path.
import { AutohardenError } from './errors.js';
import { shown } from './text.js';

const UNIT_TYPES = [
  'service', 'socket', 'target', 'device', 'mount', 'automount', 'swap', 'timer', 'path', 'slice', 'scope',
] as const;
const UNIT_NAME_MAX = 255;
// VALID_CHARS in unit-name.c: letters, digits and ":-_.\"; one "@" separates a template's instance.
const NAME = /^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.([a-z]+)$/;

/** Validates a unit name; a name without a suffix gets ".service", as systemctl does. */
export function parseUnitName(input: string, opts: { serviceOnly?: boolean } = {}): string {
  const name = /^[A-Za-z0-9:_\\-]+(@[A-Za-z0-9:_.\\-]*)?$/.test(input) && !input.includes('.') ? `${input}.service` : input;
  const m = NAME.exec(name);
  if (!m || name.length > UNIT_NAME_MAX || name.startsWith('.') || !(UNIT_TYPES as readonly string[]).includes(m[2] ?? '')) {
    throw new AutohardenError('Usage', `invalid unit name ${shown(input)}: expected NAME.service (letters, digits, ":-_.\\@")`);
  }
  if (m[1] === '@') throw new AutohardenError('Usage', `${name} is a template; name an instance (NAME@INSTANCE.service)`);
  if (opts.serviceOnly && m[2] !== 'service') {
    throw new AutohardenError('Usage', `${name} is not a service; autoharden hardens .service units`);
  }
  return name;
}
