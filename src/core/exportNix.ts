// The accepted set as a NixOS module: `systemd.services."NAME".serviceConfig`, each directive a list
// placed after the service module's own definitions (lib.mkAfter), so that it means what the
// drop-in means: NixOS writes a list as one line per entry, in order, and systemd reads them as it
// reads a drop-in after the unit (a later scalar wins, list entries add). A comment above each
// attribute says why it is there.
import { AutohardenError } from './errors.js';
import { renderDropIn } from './dropin.js';
import { headerFacts, type ExportEnv } from './exportDropIn.js';
import { commentLines, type SettingWhy } from './exportWhy.js';
import type { JournalRecord } from './journal.js';

/** A Nix string literal: `"`, `\` and `${` escaped (Nix would interpolate it). */
export function nixString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$\{/g, '\\${').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
}

/** An attribute name: bare when Nix takes it so, else quoted. */
export function nixAttr(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name) ? name : nixString(name);
}

/** A value as systemd reads it: yes/no/true/false as a Nix boolean (NixOS writes them as systemd
 * takes them), anything else as a string. */
function nixValue(v: string): string {
  if (v === 'yes' || v === 'true') return 'true';
  if (v === 'no' || v === 'false') return 'false';
  return nixString(v);
}

/** NixOS's name for a service unit: systemd.services.<name> is <name>.service. */
export function nixServiceName(unit: string): string {
  if (!unit.endsWith('.service')) throw new AutohardenError('Usage', `--format nixos takes a service unit; ${unit} is not one`);
  return unit.slice(0, -'.service'.length);
}

export function renderNixos(unit: string, records: readonly JournalRecord[], whys: readonly SettingWhy[], env: ExportEnv): string {
  renderDropIn(unit, whys.map((w) => w.setting), 'accepted'); // the same checks as the drop-in's
  const name = nixServiceName(unit);
  // directives in first-appearance order, each with its values and the reasons of the lines
  const attrs = new Map<string, { values: string[]; why: string[] }>();
  for (const w of whys) {
    w.setting.lines.forEach((line, i) => {
      const eq = line.indexOf('=');
      const key = line.slice(0, eq);
      const a = attrs.get(key) ?? { values: [], why: [] };
      const reasons = [...(i === 0 ? w.why.map((t, j) => (j === 0 ? `${w.setting.option}=${w.setting.value}: ${t}` : t)) : []), ...(w.notes.get(i) ?? [])];
      a.values.push(line.slice(eq + 1));
      for (const r of reasons) if (!a.why.includes(r)) a.why.push(r);
      attrs.set(key, a);
    });
  }
  const body = [...attrs].flatMap(([key, a]) => [
    ...a.why.flatMap((t) => commentLines(t)).map((l) => `    ${l}`),
    `    ${nixAttr(key)} = lib.mkAfter [ ${a.values.map(nixValue).join(' ')} ];`,
  ]);
  return [
    ...headerFacts(unit, records, env).filter((f) => !f.startsWith('Roll back')).flatMap((f) => commentLines(f)),
    '# A NixOS module: add it to `imports`. Each list comes after the service module\'s own values,',
    '# as a drop-in comes after the unit (a later value wins, list entries add).',
    '{ lib, ... }:',
    '{',
    `  systemd.services.${nixAttr(name)}.serviceConfig = {`,
    ...body,
    '  };',
    '}',
    '',
  ].join('\n');
}
