// export: the accepted set as a drop-in, JSON or Ansible tasks.
import { z } from 'zod';
import { renderExport } from '../core/exportFormats.js';
import { parseUnitName } from '../core/unitName.js';
import { UNIT_ARG, schemaParser, type RemoteUseCase } from './useCase.js';

export const EXPORT_FORMATS = ['dropin', 'json', 'ansible'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

// The format first: an unknown one is refused (by renderExport's own message) before the unit.
const schema = z.object({
  format: z.string().transform((f) => {
    renderExport('x.service', [], f);
    return f as ExportFormat;
  }),
  unit: z.string().transform((u) => parseUnitName(u)),
});
export type ExportRequest = z.output<typeof schema>;

export const EXPORT: RemoteUseCase<'export', ExportRequest, string, [unit: string, format: string]> = {
  name: 'export',
  parse: schemaParser(schema),
  dbus: {
    member: 'Export',
    doc: 'The accepted set, to commit and ship.',
    in: [UNIT_ARG, { name: 'format', type: 's', doc: '"dropin", "json" or "ansible"' }],
    out: [{ name: 'text', type: 's', doc: 'a drop-in file, a JSON array of settings, or Ansible tasks' }],
    toWire: (r) => [r.unit, r.format],
    fromWire: (unit, format) => ({ format, unit }),
    encode: (s) => s,
    decode: (s) => s,
  },
};
