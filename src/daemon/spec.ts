// What an enrollment asks of the daemon, validated once before anything is queued: the same
// options `tune` takes, as plain data. Pure.
import { z } from 'zod';
import { parseWorkloadSpec, type WorkloadSpec } from '../core/cost.js';
import { AutohardenError, ERR } from '../core/errors.js';
import { parseCidr, type Declarations } from '../core/policy.js';
import { parseProbeSpec } from '../core/probeSpec.js';
import type { ProbeSpec } from '../core/types.js';
import { refuseControl } from '../core/text.js';
import { refuseProtectedUnit } from '../core/protectedUnits.js';
import { parseUnitName } from '../core/unitName.js';
import { LIMIT_BOUNDS, limitsFrom, type TuneLimits } from '../core/tuneLimits.js';

import { DEFAULT_SETTLE_MS, SETTLE_MAX_MS, SETTLE_MIN_MS } from '../core/limits.js';

export { DEFAULT_SETTLE_MS, SETTLE_MAX_MS, SETTLE_MIN_MS };

/** The value a parser returns, or an issue with the parser's own message when it refuses. */
function parsed<T, U>(parse: (v: T) => U) {
  return (v: T, ctx: z.RefinementCtx): U => {
    try {
      return parse(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
      return z.NEVER;
    }
  };
}

/** The workload's text is journaled and run by a shell: no control characters or line breaks. */
function parseWorkloadText(w: string): WorkloadSpec {
  return parseWorkloadSpec(refuseControl(w, 'bad workload spec', { percent: true }));
}

/** Adds an issue for every value a parser refuses, with the parser's own message. */
function checked<T>(parse: (v: T) => unknown) {
  return (v: T, ctx: z.RefinementCtx) => {
    try {
      parse(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
    }
  };
}

export const enrollSpecSchema = z
  .object({
    unit: z.string().superRefine(checked((u: string) => parseUnitName(u, { serviceOnly: true }))),
    probes: z.array(z.string().superRefine(checked(parseProbeSpec))).max(32).default([]),
    settleMs: z.number().int().min(SETTLE_MIN_MS).max(SETTLE_MAX_MS).default(DEFAULT_SETTLE_MS),
    strategy: z.enum(['one-at-a-time', 'adaptive']).default('adaptive'),
    persist: z.boolean().default(true),
    /** Canonical from here on: the drop-in gets the re-printed CIDR, never the text sent. */
    allowNet: z.array(z.string().transform(parsed((c: string) => parseCidr(c).cidr))).max(64).default([]),
    localOnly: z.boolean().default(false),
    confineSessions: z.boolean().default(false),
    /** Cost-aware tuning: the workload that measures the service (as `tune --workload`)… */
    workload: z.string().superRefine(checked(parseWorkloadText)).optional(),
    /** …and the slowdown it may take, as a fraction (0.05 = 5 %; `--budget 5%`). */
    budget: z.number().min(0).max(10).optional(),
    /** What the guard does about a failure no trusted evidence explains: alert (default), or also
     * test taking the setting its evidence points at away (A/B, at most one a day). */
    guard: z.enum(['alert', 'relax-on-reproduction']).default('alert'),
    /** Options relax-on-reproduction never takes away (`--guard-floor`). */
    guardFloor: z.array(z.string().regex(/^[A-Za-z]{1,64}$/, 'an option name')).max(64).default([]),
    /** --max-restarts, --max-time (ms): the tuning stops early at a safe point, then guards what it
     * kept. Sent only when given: an older daemon refuses keys it does not know. */
    maxRestarts: z.number().int().min(LIMIT_BOUNDS.restarts.min).max(LIMIT_BOUNDS.restarts.max).optional(),
    maxTimeMs: z.number().int().min(LIMIT_BOUNDS.timeMs.min).max(LIMIT_BOUNDS.timeMs.max).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.localOnly && s.allowNet.length) {
      ctx.addIssue({ code: 'custom', path: ['localOnly'], message: ERR.LocalOnlyContradicts.template });
    }
    if (s.budget !== undefined && s.workload === undefined) {
      ctx.addIssue({ code: 'custom', path: ['budget'], message: ERR.BudgetNeedsWorkload.template });
    }
  });

/** A validated enrollment: unit name normalised (nginx → nginx.service). */
export type EnrollSpec = z.output<typeof enrollSpecSchema>;
export type EnrollInput = z.input<typeof enrollSpecSchema>;

/** One line naming the first problem: "probes[0]: bad probe spec …". */
function firstIssue(err: z.ZodError): string {
  const i = err.issues[0];
  if (!i) return 'invalid';
  const path = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  return path ? `${path}: ${i.message}` : i.message;
}

/** An enrollment as an object: JSON text parsed, anything else as given. */
export function enrollValue(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch {
    throw new AutohardenError('Usage', 'bad enrollment spec: not JSON');
  }
}

/** Validates an enrollment (an object, or its JSON text); throws AutohardenError('Usage'). */
export function parseEnrollSpec(input: unknown): EnrollSpec {
  const value = enrollValue(input);
  const r = enrollSpecSchema.safeParse(value);
  if (!r.success) throw new AutohardenError('Usage', `bad enrollment spec: ${firstIssue(r.error)}`.split('\n')[0]!);
  const spec = { ...r.data, unit: parseUnitName(r.data.unit, { serviceOnly: true }) };
  // by the name asked for; the daemon checks the canonical Id and aliases again when it enrolls
  refuseProtectedUnit('enroll', spec.unit, {});
  return spec;
}

export function specProbes(spec: EnrollSpec): ProbeSpec[] {
  return spec.probes.map(parseProbeSpec);
}

export function specWorkload(spec: EnrollSpec): WorkloadSpec | undefined {
  return spec.workload === undefined ? undefined : parseWorkloadText(spec.workload);
}

export function specDeclarations(spec: EnrollSpec): Declarations {
  return { allowNet: spec.allowNet, localOnly: spec.localOnly, confineSessions: spec.confineSessions };
}

/** The tuning's limits, when the enrollment has any. */
export function specLimits(spec: EnrollSpec): TuneLimits | undefined {
  return limitsFrom(spec).limits;
}
