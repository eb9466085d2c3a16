// status: one unit's row, or every enrolled or tuned unit's.
import { z } from 'zod';
import { parseUnitName } from '../core/unitName.js';
import type { StatusRow } from '../daemon/statusFormat.js';
import { UNIT_ARG, json, schemaParser, type RemoteUseCase } from './useCase.js';

export type { StatusRow } from '../daemon/statusFormat.js';
export { formatStatus } from '../daemon/statusFormat.js';

const schema = z.object({ unit: z.string().optional().transform((u) => (u ? parseUnitName(u) : undefined)) });
export type StatusRequest = z.output<typeof schema>;

export const STATUS: RemoteUseCase<'status', StatusRequest, StatusRow[], [unit: string]> = {
  name: 'status',
  parse: schemaParser(schema),
  dbus: {
    member: 'Status',
    doc: 'State of one unit, or of every unit the daemon knows: queued, tuning, guarding or failed (tuned/interrupted for units only `tune` touched).',
    in: [{ ...UNIT_ARG, doc: 'a unit, or "" for all' }],
    out: [{ name: 'status', type: 's', doc: 'JSON array of {unit, state, enrolled, exposureBefore, exposureAfter, trials, currentTrial, accepted, error?, report?, verifiedOn?, reverify?}; verifiedOn: the platform its accepted set was last verified on; reverify: after a systemd or kernel upgrade, pending or done; pausedUntil: while the admin paused its guard (guard pause), when the pause ends' }],
    toWire: (r) => [r.unit ?? ''],
    fromWire: (unit) => ({ unit }),
    encode: json.encode,
    decode: json.decode<StatusRow[]>,
  },
};
