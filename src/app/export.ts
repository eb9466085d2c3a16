// export: the accepted set as a drop-in, JSON, an Ansible playbook or a NixOS module, each line
// with why it is there and a header saying what produced it, on what, when and where; or as a
// profile, with what the running system says of the unit (read where the use case runs).
import { hostname, release } from 'node:os';
import { z } from 'zod';
import { autohardenVersion } from '../adapters/version.js';
import { EXPORT_FORMATS, checkFormat, renderExport, type ExportFormat, type ProfileLive } from '../core/exportFormats.js';
import type { JournalRecord } from '../core/journal.js';
import { parseUnitName } from '../core/unitName.js';
import type { SystemdPort } from '../engine/ports.js';
import { UNIT_ARG, schemaParser, type RemoteUseCase } from './useCase.js';

export { EXPORT_FORMATS, type ExportFormat };

// The format first: an unknown one is refused (with the list) before the unit.
const schema = z.object({
  format: z.string().transform((f): ExportFormat => checkFormat(f)),
  unit: z.string().transform((u) => parseUnitName(u)),
});
export type ExportRequest = z.output<typeof schema>;

/** The export of a unit whose journal holds `records`, as the daemon and this process both run it:
 * stamped with this autoharden's version, this host's name and kernel, and now. */
export function exportText(req: ExportRequest, records: readonly JournalRecord[], date = new Date(), live?: ProfileLive): string {
  return renderExport(req.unit, records, req.format, { version: autohardenVersion(), host: hostname(), date, kernelRelease: release() }, live);
}

/** exportText, with what systemd and /proc say of the unit when the format is a profile. */
export async function exportWithLive(req: ExportRequest, records: readonly JournalRecord[], systemd: SystemdPort | undefined, why?: string): Promise<string> {
  if (req.format !== 'profile') return exportText(req, records);
  const { profileLive } = await import('./profileLive.js');
  return exportText(req, records, new Date(), systemd ? await profileLive(systemd, req.unit) : { unobserved: why ?? 'systemd could not be reached' });
}

export const EXPORT: RemoteUseCase<'export', ExportRequest, string, [unit: string, format: string]> = {
  name: 'export',
  parse: schemaParser(schema),
  dbus: {
    member: 'Export',
    doc: 'The accepted set, to commit and ship: each line with why it is there, a header with versions, date and host.',
    in: [UNIT_ARG, { name: 'format', type: 's', doc: '"dropin", "json", "ansible", "nixos" or "profile"' }],
    out: [{ name: 'text', type: 's', doc: 'a drop-in file, a JSON array of settings, an Ansible playbook, a NixOS module, or a profile (JSON) for apply' }],
    toWire: (r) => [r.unit, r.format],
    fromWire: (unit, format) => ({ format: format as ExportFormat, unit }),
    encode: (s) => s,
    decode: (s) => s,
  },
};
