// Before any change: refuse a unit that may not or cannot be tuned, warm the workload up, and
// observe the running unit (what it listens on, the logs it writes, what the probes cannot see).
import { AutohardenError, ERR } from '../../core/errors.js';
import { errorSignatures } from '../../core/logcheck.js';
import { probeBlindSpots } from '../../core/observe.js';
import type { SafetyFacts } from '../../core/policy.js';
import { refuseProtectedUnit } from '../../core/protectedUnits.js';
import type { ProbeSpec } from '../../core/types.js';
import type { Ports } from '../ports.js';
import { WORKLOAD_TIMEOUT_MS, type TuneContext } from './context.js';

const PREFLIGHT_PROBE_RUNS = 3;

/** Warnings a person must read before trusting the probes. */
export function probeWarnings(facts: SafetyFacts, blindSpots: readonly string[]): string[] {
  const out = [...blindSpots];
  if (facts.sessionEvidence.length) out.push(`the unit spawns login sessions (${facts.sessionEvidence.join('; ')})`);
  return out;
}

/** Refuses, changing nothing, unless the unit is a loaded, active service whose probes pass and
 * that autoharden may restart (not the system bus, systemd's own units, autoharden: by any alias). */
export async function preflight(ports: Ports, unit: string, probes: readonly ProbeSpec[]): Promise<void> {
  const info = await ports.systemd.unitInfo(unit);
  refuseProtectedUnit('tune', unit, info);
  if (info.loadState !== 'loaded') throw new ERR.NotLoaded(unit, info.loadState);
  if (info.activeState !== 'active') {
    throw new ERR.NotRunning(unit, info.activeState);
  }
  for (let i = 0; i < PREFLIGHT_PROBE_RUNS; i++) {
    const failed = (await ports.probe(probes)).find((p) => !p.ok);
    if (failed) {
      throw new AutohardenError('Failed', `probe ${failed.probe} fails before any change (${failed.detail}); fix the probe or the service first`);
    }
  }
}

/** Once on the untouched unit: a warm-up, and a workload that fails now is the user's to fix. */
export async function warmUp(c: TuneContext): Promise<void> {
  const { workload } = c.o;
  if (!workload) return;
  try {
    await c.ports.runWorkload(workload, WORKLOAD_TIMEOUT_MS);
  } catch (e) {
    throw new AutohardenError('Failed', `workload ${workload.raw} fails before any change: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Measures the exposure, observes the unit, warns about the probes' blind spots and learns the
 * errors the unit logs already. Returns the facts the policy decides on. */
export async function observe(c: TuneContext): Promise<SafetyFacts> {
  const { ports, o } = c;
  c.counts.exposureBefore = await ports.exposure(o.unit);
  const observed = await ports.observe(o.unit);
  c.warnings.splice(0, c.warnings.length, ...probeWarnings(observed.facts, probeBlindSpots(o.probes, observed.observation)));
  for (const w of c.warnings) ports.progress({ type: 'info', message: `warning: ${w}` });
  c.watch = {
    logFiles: observed.logFiles,
    knownErrors: errorSignatures(await ports.recentLogs(o.unit, observed.logFiles)),
  };
  c.facts = observed.facts;
  return observed.facts;
}
