// guard pause|resume: an admin's maintenance window on a guarded unit (core/pause.ts). Served by
// the daemon when it runs (it also stops and restarts the guard's watch), else acted out on the
// state directory, where the daemon finds the pause when it starts.
import { z } from 'zod';
import { AutohardenError } from '../core/errors.js';
import type { JournalRecord, NewRecord } from '../core/journal.js';
import { PAUSE_DEFAULT_MS, pauseDecision, type PauseResult } from '../core/pause.js';
import { parseUnitName } from '../core/unitName.js';
import { UNIT_ARG, json, schemaParser, type RemoteUseCase } from './useCase.js';

export type { PauseResult } from '../core/pause.js';

const schema = z.object({
  unit: z.string().transform((u) => parseUnitName(u, { serviceOnly: true })),
  action: z.enum(['pause', 'resume']),
  /** 0: the default (1h). Range-checked by pauseDecision, the one place both sides share. */
  forMs: z.number().int().min(0).default(0),
});
export type GuardPauseRequest = z.output<typeof schema>;

export const GUARD_PAUSE: RemoteUseCase<'guardPause', GuardPauseRequest, PauseResult, [unit: string, action: string, forMs: number]> = {
  name: 'guardPause',
  parse: schemaParser(schema),
  dbus: {
    member: 'GuardPause',
    doc: "Pause the guard of a unit for an admin's maintenance (it takes up no failure until the pause ends or is resumed; the tune of a queued unit waits), or resume it: the guard then looks at the unit afresh. Journaled.",
    in: [
      UNIT_ARG,
      { name: 'action', type: 's', doc: '"pause" or "resume"' },
      { name: 'for_ms', type: 'u', doc: 'how long the pause lasts (1 s to 7 days); 0: one hour; ignored by resume' },
    ],
    out: [{ name: 'result', type: 's', doc: 'JSON {unit, action, changed, until?, previousUntil?, enrolled}' }],
    toWire: (r) => [r.unit, r.action, r.forMs],
    fromWire: (unit, action, forMs) => ({ unit, action, forMs }),
    encode: json.encode,
    decode: json.decode<PauseResult>,
  },
};

/** The state a pause request is judged on, whoever serves it. */
export interface PauseTarget {
  records: readonly JournalRecord[];
  journaled: boolean;
  /** The enrollment's state, if enrolled. */
  state?: string;
}

/** Refusals and the decision: exit 6 for a unit with nothing to guard, 1 for one being tuned
 * (its trials restart it; stopping the search between them could leave a failed trial in place). */
export function decidePause(req: GuardPauseRequest, t: PauseTarget, now: number): { record?: NewRecord; result: PauseResult } {
  const { unit } = req;
  if (!t.journaled && t.state === undefined) {
    throw new AutohardenError('UnitUnknown', `${unit} is neither enrolled nor tuned: autoharden guards nothing there to pause`);
  }
  if (req.action === 'pause' && t.state === 'tuning') {
    throw new AutohardenError('Failed', `${unit} is being tuned: its trials restart it; pause it once it is guarding, or unenroll --keep`);
  }
  return pauseDecision(unit, t.records, { action: req.action, forMs: req.forMs || PAUSE_DEFAULT_MS }, now, t.state !== undefined);
}
