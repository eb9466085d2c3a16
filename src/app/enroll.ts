// enroll: hand a running service to the daemon. Its request is the enrollment spec (daemon/spec.ts),
// plus `retune`: an enrolled unit is tuned again (after an upgrade, what the new systemd or kernel
// offers is tried). `retune` travels inside the spec's JSON and only when set, so the D-Bus method
// keeps its signature: older clients and older daemons (for a plain enroll) keep working.
import { z } from 'zod';
import { AutohardenError } from '../core/errors.js';
import { enrollValue, parseEnrollSpec, type EnrollSpec as Spec } from '../daemon/spec.js';
import type { RemoteUseCase } from './useCase.js';

/** An enrollment request: the spec the daemon keeps, and whether to tune an enrolled unit again. */
export type EnrollSpec = Spec & { retune?: boolean };

const retuneSchema = z.boolean().optional();

/** Validates a request (an object, or its JSON text); throws AutohardenError('Usage'). `retune` is
 * taken off before the spec is validated: it is asked of the daemon once, never stored. */
export function parseEnrollRequest(input: unknown): EnrollSpec {
  const value = enrollValue(input);
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('retune' in value)) return parseEnrollSpec(value);
  const { retune, ...rest } = value as Record<string, unknown>;
  const r = retuneSchema.safeParse(retune);
  if (!r.success) throw new AutohardenError('Usage', 'bad enrollment spec: retune: expected true or false');
  const spec = parseEnrollSpec(rest);
  return r.data ? { ...spec, retune: true } : spec;
}

/** The spec as sent: `retune` only when asked for (a daemon that predates it refuses the key). */
function wireSpec(spec: EnrollSpec): string {
  const { retune, ...rest } = spec;
  return JSON.stringify(retune ? { ...rest, retune: true } : rest);
}

export const ENROLL: RemoteUseCase<'enroll', EnrollSpec, string, [spec: string]> = {
  name: 'enroll',
  parse: parseEnrollRequest,
  dbus: {
    member: 'Enroll',
    doc: 'Queue a running service for tuning, then guarding. The spec is validated before anything is queued (Error.Usage). With "retune": true an enrolled unit is tuned again with the options it was enrolled with (a unit not enrolled is enrolled).',
    in: [{
      name: 'spec', type: 's',
      doc: 'JSON {"unit":"nginx.service","probes":["http://127.0.0.1/"],"settleMs":2000,"strategy":"one-at-a-time|adaptive","persist":true,"allowNet":[],"localOnly":false,"confineSessions":false,"workload":"exec:COMMAND","budget":0.05,"maxRestarts":20,"maxTimeMs":600000,"retune":false}; only unit is required',
    }],
    out: [{ name: 'unit', type: 's', doc: 'the unit name as enrolled (nginx → nginx.service)' }],
    toWire: (spec) => [wireSpec(spec)],
    fromWire: (spec) => spec,
    encode: (unit) => unit,
    decode: (unit) => unit,
  },
};
