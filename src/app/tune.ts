// tune: try hardening options on a running service, trial by trial, in this process (never
// through the daemon). The request holds parsed values: probes, workload and networks as the
// engine takes them.
import { z } from 'zod';
import { canonicalCidrs } from '../core/cidr.js';
import { parseBudget, parseWorkloadSpec } from '../core/cost.js';
import { ERR } from '../core/errors.js';
import { DEFAULT_SETTLE_MS, SETTLE_MAX_MS, SETTLE_MIN_MS } from '../core/limits.js';
import { parseProbeSpec } from '../core/probeSpec.js';
import { LIMIT_BOUNDS } from '../core/tuneLimits.js';
import { parseUnitName } from '../core/unitName.js';
import type { TuneReport } from '../engine/tune.js';
import { schemaParser, type UseCase } from './useCase.js';

export type { TuneReport } from '../engine/tune.js';

// Field order is check order: each parser throws its own Usage error.
const schema = z
  .object({
    unit: z.string().transform((u) => parseUnitName(u, { serviceOnly: true })),
    workload: z.string().optional().transform((w) => (w === undefined ? undefined : parseWorkloadSpec(w))),
    /** "5%" → 0.05 */
    budget: z.string().optional().transform((b) => (b === undefined ? undefined : parseBudget(b))),
    probes: z.array(z.string()).default([]).transform((p) => p.map(parseProbeSpec)),
    allowNet: z.array(z.string()).default([]).transform((a) => canonicalCidrs(a)),
    localOnly: z.boolean().default(false),
    confineSessions: z.boolean().default(false),
    settleMs: z.number().int().min(SETTLE_MIN_MS).max(SETTLE_MAX_MS).default(DEFAULT_SETTLE_MS),
    strategy: z.enum(['one-at-a-time', 'adaptive']).default('adaptive'),
    persist: z.boolean().default(true),
    measureRestarts: z.number().int().min(2).max(1000).default(40),
    /** Run the attack battery (autoharden audit) before and after. */
    audit: z.boolean().default(false),
    /** --max-restarts, --max-time (ms): stop early at a safe point with what is verified. */
    maxRestarts: z.number().int().min(LIMIT_BOUNDS.restarts.min).max(LIMIT_BOUNDS.restarts.max).optional(),
    maxTimeMs: z.number().int().min(LIMIT_BOUNDS.timeMs.min).max(LIMIT_BOUNDS.timeMs.max).optional(),
  })
  .transform((r) => {
    if (r.budget !== undefined && !r.workload) throw new ERR.BudgetNeedsWorkload();
    if (r.localOnly && r.allowNet.length) throw new ERR.LocalOnlyContradicts();
    return r;
  });
export type TuneRequest = z.output<typeof schema>;
export type TuneInput = z.input<typeof schema>;

export const TUNE: UseCase<'tune', TuneRequest, TuneReport> = {
  name: 'tune',
  parse: schemaParser(schema),
};
