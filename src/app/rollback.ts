// rollback: remove one accepted option, or all of them; restart the unit and run its probes.
import { z } from 'zod';
import { CATALOG } from '../core/catalog.js';
import { ERR } from '../core/errors.js';
import { SETTLE_MAX_MS, SETTLE_MIN_MS } from '../core/limits.js';
import { parseUnitName } from '../core/unitName.js';
import type { RollbackResult } from '../engine/rollback.js';
import { UNIT_ARG, json, schemaParser, type RemoteUseCase } from './useCase.js';

export type { RollbackResult } from '../engine/rollback.js';

const schema = z
  .object({
    unit: z.string().transform((u) => parseUnitName(u)),
    option: z.string().optional(),
    all: z.boolean().default(false),
    /** 0: the enrollment's settle period, else the default. */
    settleMs: z.number().int().default(0),
  })
  .transform((r) => {
    const option = r.option || undefined;
    if (r.all === Boolean(option)) throw new ERR.RollbackNeedsOne();
    if (option && !CATALOG.some((c) => c.name === option)) throw new ERR.UnknownOption(option, r.unit);
    if (r.settleMs && (r.settleMs < SETTLE_MIN_MS || r.settleMs > SETTLE_MAX_MS)) throw new ERR.SettleRange(SETTLE_MIN_MS, SETTLE_MAX_MS);
    return { unit: r.unit, settleMs: r.settleMs, ...(option ? { option } : { all: true as const }) };
  });
export type RollbackRequest = z.output<typeof schema>;

export const ROLLBACK: RemoteUseCase<'rollback', RollbackRequest, RollbackResult, [unit: string, option: string, all: boolean, settleMs: number]> = {
  name: 'rollback',
  parse: schemaParser(schema),
  dbus: {
    member: 'Rollback',
    doc: 'Remove one accepted option, or all of them; restarts the unit and runs its probes.',
    in: [
      UNIT_ARG,
      { name: 'option', type: 's', doc: 'option name (e.g. ProtectSystem), or "" with all' },
      { name: 'all', type: 'b', doc: 'remove every accepted option' },
      { name: 'settle_ms', type: 'u', doc: 'settle period after the restart; 0: the enrollment\'s, else 2000' },
    ],
    out: [{ name: 'result', type: 's', doc: 'JSON {unit, removed, remaining, verdict}' }],
    slow: true,
    toWire: (r) => [r.unit, 'option' in r && r.option ? r.option : '', 'all' in r && r.all === true, r.settleMs],
    fromWire: (unit, option, all, settleMs) => ({ unit, option, all, settleMs }),
    encode: json.encode,
    decode: json.decode<RollbackResult>,
  },
};

/** What the engine's rollback takes. */
export const rollbackWhat = (r: RollbackRequest): { all: true } | { option: string } => ('option' in r && r.option ? { option: r.option } : { all: true });
