// journal: every record of a unit, oldest first.
import { z } from 'zod';
import type { JournalRecord } from '../core/journal.js';
import { parseUnitName } from '../core/unitName.js';
import { UNIT_ARG, json, schemaParser, type RemoteUseCase } from './useCase.js';

const schema = z.object({ unit: z.string().transform((u) => parseUnitName(u)) });
export type JournalRequest = z.output<typeof schema>;

export const JOURNAL: RemoteUseCase<'journal', JournalRequest, JournalRecord[], [unit: string]> = {
  name: 'journal',
  parse: schemaParser(schema),
  dbus: {
    member: 'Journal',
    doc: "The unit's journal: every trial, verdict, skip, rollback and recovery, oldest first.",
    in: [UNIT_ARG],
    out: [{ name: 'records', type: 's', doc: 'JSON array of journal records' }],
    toWire: (r) => [r.unit],
    fromWire: (unit) => ({ unit }),
    encode: json.encode,
    decode: json.decode<JournalRecord[]>,
  },
};
