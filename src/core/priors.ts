// Observation moves the catalog's prior chance that an option's strongest rung works: a root
// daemon whose workers run as another user needs SETUID/SETGID (no empty bounding set, no
// PrivateUsers, no @privileged); a JIT runtime will not survive MemoryDenyWriteExecute. Which
// observation moves which option is the entry's `priorFrom`; this file reads the facts.
import type { OptionSpec, SafetyFacts } from './types.js';

const JIT = /^(node|nodejs|java|php|php-fpm.*|luajit|dotnet|mono|beam\.smp|pypy.*)$/;

/** What the priors read from the facts. */
export interface Observed {
  runsAsRoot: boolean;
  /** Root with workers under another uid. */
  switchesUser: boolean;
  /** A JIT runtime among its commands. */
  jit: boolean;
  /** Node (V8 calls pkey_alloc at start, which @system-service lacks in systemd 252). */
  node: boolean;
}

export function observed(f: SafetyFacts): Observed {
  const uids = f.uids ?? [];
  const commands = f.commands ?? [];
  return {
    runsAsRoot: uids.includes(0),
    // a unit started as root whose root process is gone (pg_ctlcluster) shows it by CAP_SETUID
    switchesUser: (uids.includes(0) && uids.some((u) => u !== 0)) || (f.capsNeeded ?? []).some((c) => c.cap === 'CAP_SETUID'),
    jit: commands.some((c) => JIT.test(c)),
    node: commands.some((c) => /^node(js)?$/.test(c)),
  };
}

/** Capabilities observation says the unit will not miss: tried together in one trial first. */
export function likelyFreeCaps(f: SafetyFacts, base: readonly string[]): string[] {
  const lowPort = f.inetEndpoints.some((e) => {
    const port = Number(/:(\d+)$/.exec(e)?.[1]);
    return port > 0 && port < 1024;
  });
  return [
    ...base,
    ...(observed(f).switchesUser ? [] : ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP']),
    ...(lowPort ? [] : ['CAP_NET_BIND_SERVICE']),
  ];
}

/** Chance for the bounding set's strongest rung. With a prediction (capsObserved.ts) that rung
 * is the predicted set. A prediction of nothing is strong for a unit without root processes (it
 * holds only what it was given) but not for root, which uses capabilities no record shows. */
export const OBSERVED_CAPS_PRIOR = 0.8;
export const NO_CAPS_PRIOR = 0.7;

export function capsPrior(f: SafetyFacts, prior: number): number {
  const needed = f.capsNeeded;
  const root = observed(f).runsAsRoot;
  if (needed?.length) return OBSERVED_CAPS_PRIOR;
  if (needed && !root) return Math.max(prior, NO_CAPS_PRIOR);
  return root ? Math.min(prior, 0.05) : prior;
}

export function observedPrior(spec: OptionSpec, f: SafetyFacts): number {
  return spec.priorFrom ? spec.priorFrom(f, spec.prior) : spec.prior;
}
