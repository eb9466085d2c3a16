// unenroll: stop tuning and guarding a unit; keep its accepted drop-in or remove it.
import { z } from 'zod';
import { ERR } from '../core/errors.js';
import { parseUnitName } from '../core/unitName.js';
import type { RollbackResult } from '../engine/rollback.js';
import { UNIT_ARG, json, schemaParser, type RemoteUseCase } from './useCase.js';

const schema = z.object({
  unit: z.string().transform((u) => parseUnitName(u, { serviceOnly: true })),
  mode: z.unknown().transform((m) => {
    if (m !== 'keep' && m !== 'remove') throw new ERR.UnenrollMode(m as string);
    return m;
  }),
});
export type UnenrollRequest = z.output<typeof schema>;
export interface UnenrollResult {
  unit: string;
  mode: string;
  kept?: string;
  rollback?: RollbackResult;
}

export const UNENROLL: RemoteUseCase<'unenroll', UnenrollRequest, UnenrollResult, [unit: string, mode: string]> = {
  name: 'unenroll',
  parse: schemaParser(schema),
  dbus: {
    member: 'Unenroll',
    doc: 'Stop tuning and guarding a unit; keep its accepted drop-in (persisted under /etc) or remove it.',
    in: [UNIT_ARG, { name: 'mode', type: 's', doc: '"keep" or "remove"' }],
    out: [{ name: 'result', type: 's', doc: 'JSON {unit, mode, kept?, rollback?}' }],
    slow: true,
    toWire: (r) => [r.unit, r.mode],
    fromWire: (unit, mode) => ({ unit, mode }),
    encode: json.encode,
    decode: json.decode<UnenrollResult>,
  },
};
