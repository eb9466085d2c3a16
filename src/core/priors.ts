// Observation moves the catalog's prior chance that an option's strongest rung works: a root
// daemon whose workers run as another user needs SETUID/SETGID (no empty bounding set, no
// PrivateUsers, no @privileged); a JIT runtime will not survive MemoryDenyWriteExecute.
import type { SafetyFacts } from './policy.js';
import type { OptionSpec } from './types.js';

const JIT = /^(node|nodejs|java|php|php-fpm.*|luajit|dotnet|mono|beam\.smp|pypy.*)$/;

export function observedPrior(spec: OptionSpec, f: SafetyFacts): number {
  const uids = f.uids ?? [];
  const switchesUser = uids.includes(0) && uids.some((u) => u !== 0);
  const runsAsRoot = uids.includes(0);
  const jit = (f.commands ?? []).some((c) => JIT.test(c));
  switch (spec.name) {
    case 'PrivateUsers':
      return runsAsRoot ? Math.min(spec.prior, 0.05) : spec.prior;
    case 'CapabilityBoundingSet':
      return runsAsRoot ? Math.min(spec.prior, 0.05) : spec.prior;
    case 'SystemCallFilter':
      return switchesUser ? Math.min(spec.prior, 0.1) : spec.prior;
    case 'MemoryDenyWriteExecute':
      return jit ? 0.02 : spec.prior;
    default:
      return spec.prior;
  }
}
