// enroll: hand a running service to the daemon. Its request is the enrollment spec (daemon/spec.ts).
import { parseEnrollSpec, type EnrollSpec } from '../daemon/spec.js';
import type { RemoteUseCase } from './useCase.js';

export type { EnrollSpec } from '../daemon/spec.js';

export const ENROLL: RemoteUseCase<'enroll', EnrollSpec, string, [spec: string]> = {
  name: 'enroll',
  parse: parseEnrollSpec,
  dbus: {
    member: 'Enroll',
    doc: 'Queue a running service for tuning, then guarding. The spec is validated before anything is queued (Error.Usage).',
    in: [{
      name: 'spec', type: 's',
      doc: 'JSON {"unit":"nginx.service","probes":["http://127.0.0.1/"],"settleMs":2000,"strategy":"one-at-a-time|adaptive","persist":true,"allowNet":[],"localOnly":false,"confineSessions":false,"workload":"exec:COMMAND","budget":0.05}; only unit is required',
    }],
    out: [{ name: 'unit', type: 's', doc: 'the unit name as enrolled (nginx → nginx.service)' }],
    toWire: (spec) => [JSON.stringify(spec)],
    fromWire: (spec) => spec,
    encode: (unit) => unit,
    decode: (unit) => unit,
  },
};
