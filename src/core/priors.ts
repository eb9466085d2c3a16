// Observation moves the catalog's prior chance that an option's strongest rung works: a root
// daemon whose workers run as another user needs SETUID/SETGID (no empty bounding set, no
// PrivateUsers, no @privileged); a JIT runtime will not survive MemoryDenyWriteExecute.
import type { SafetyFacts } from './policy.js';
import type { OptionSpec } from './types.js';

const JIT = /^(node|nodejs|java|php|php-fpm.*|luajit|dotnet|mono|beam\.smp|pypy.*)$/;

/** Capabilities observation says the unit will not miss: tried together in one trial first. */
export function likelyFreeCaps(f: SafetyFacts, base: readonly string[]): string[] {
  const uids = f.uids ?? [];
  const switchesUser = uids.includes(0) && uids.some((u) => u !== 0);
  const lowPort = f.inetEndpoints.some((e) => {
    const port = Number(/:(\d+)$/.exec(e)?.[1]);
    return port > 0 && port < 1024;
  });
  return [
    ...base,
    ...(switchesUser ? [] : ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP']),
    ...(lowPort ? [] : ['CAP_NET_BIND_SERVICE']),
  ];
}

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
      // V8 calls pkey_alloc at start, which @system-service lacks in systemd 252 (@pkey)
      return switchesUser || (f.commands ?? []).some((c) => /^node(js)?$/.test(c)) ? Math.min(spec.prior, 0.1) : spec.prior;
    case 'MemoryDenyWriteExecute':
      return jit ? 0.02 : spec.prior;
    default:
      return spec.prior;
  }
}
