// The accepted set in the forms people commit and ship with the tools they already use: a drop-in,
// JSON, an Ansible playbook, a NixOS module; and as a profile for `apply` on other hosts. The
// journal is read for the set and for why each setting is in it (exportWhy.ts).
import { AutohardenError } from './errors.js';
import { renderAnsible } from './exportAnsible.js';
import { renderAnnotatedDropIn, type ExportEnv } from './exportDropIn.js';
import { renderNixos } from './exportNix.js';
import { buildProfile, type ProfileLive } from './exportProfile.js';
import { explainAccepted } from './exportWhy.js';
import { acceptedSet, type JournalRecord } from './journal.js';
import { renderProfile } from './profile.js';

export type { ExportEnv } from './exportDropIn.js';
export type { ProfileLive } from './exportProfile.js';

export const EXPORT_FORMATS = ['dropin', 'json', 'ansible', 'nixos', 'profile'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function isExportFormat(f: string): f is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(f);
}

export function checkFormat(format: string): ExportFormat {
  if (!isExportFormat(format)) {
    throw new AutohardenError('Usage', `unknown format ${JSON.stringify(format)}; expected ${EXPORT_FORMATS.join(', ')}`);
  }
  return format;
}

/** The unit's accepted set (folded from its journal) in `format`. AutohardenError Usage for an
 * unknown format, Config for a setting a tampered journal holds (no line is written). `live`: what
 * the running system said, for a profile (without it, the journal's platform and no facts). */
export function renderExport(unit: string, records: readonly JournalRecord[], format: string, env: ExportEnv, live?: ProfileLive): string {
  const f = checkFormat(format);
  if (f === 'profile') return renderProfile(buildProfile(unit, records, env, live));
  const accepted = acceptedSet(records);
  if (f === 'json') return `${JSON.stringify(accepted, null, 2)}\n`;
  const whys = explainAccepted(records, accepted);
  switch (f) {
    case 'dropin':
      return renderAnnotatedDropIn(unit, records, whys, env);
    case 'ansible':
      return renderAnsible(unit, renderAnnotatedDropIn(unit, records, whys, env), env.host);
    case 'nixos':
      return renderNixos(unit, records, whys, env);
  }
}
