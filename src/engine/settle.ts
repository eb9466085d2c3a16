// Restart a unit and watch it settle: the one sequence every trial, revert, rollback and
// recovery shares.
import { classifyTrial } from '../core/classify.js';
import type { ProbeSpec, UnitSnapshot, Verdict } from '../core/types.js';
import type { Ports } from './ports.js';

export interface SettleOptions {
  settleMs: number;
  probes: readonly ProbeSpec[];
  restartTimeoutMs?: number;
  signal?: AbortSignal;
  /** Log files to read for new errors, and the errors known before tuning (safety policy). */
  logFiles?: readonly string[];
  knownErrors?: ReadonlySet<string>;
  /** A trial (not a revert): fault injection may fire. */
  faults?: boolean;
}

const SAMPLE_MS = 200;
const PROBE_RETRY_MS = 250;
const PROBE_GRACE_MIN_MS = 1000;
const PROBE_GRACE_MAX_MS = 5000;

/** ResetFailed (clears the start rate limit), Restart (job awaited race-free by the adapter),
 * then sample the unit through the settle period and run every probe. */
export async function restartAndJudge(ports: Ports, unit: string, o: SettleOptions): Promise<Verdict & { logs: string[] }> {
  const since = ports.now();
  const offsets = ports.logOffsets(o.logFiles ?? []);
  await ports.systemd.resetFailed(unit);
  const jobResult = await ports.systemd.restart(unit, o.restartTimeoutMs ?? 90_000);
  const start = await ports.systemd.snapshot(unit);
  const samples: UnitSnapshot[] = [];
  // the ports' clock, not Date: engine tests run on virtual time
  const now = () => ports.now().getTime();
  const end = now() + o.settleMs;
  if (jobResult === 'done') {
    // For Type=simple the job is done right after fork, before the sandbox is even applied.
    while (now() < end) {
      await ports.sleep(Math.min(SAMPLE_MS, Math.max(0, end - now())), o.signal);
      const s = await ports.systemd.snapshot(unit);
      samples.push(s);
      if (o.faults) ports.fault('during-settle');
      if (s.activeState !== 'active' || s.invocationId !== start.invocationId || s.nRestarts !== start.nRestarts) break;
    }
  }
  const last = samples.at(-1) ?? start;
  const healthy = jobResult === 'done' && last.activeState === 'active' && last.invocationId === start.invocationId;
  if (healthy && o.faults) ports.fault('during-probe');
  let probes = healthy ? await ports.probe(o.probes) : [];
  // A service still starting up (a busy machine, a slow runtime) is not a broken one: failed
  // probes are asked again for a short grace while the unit stays up in the same invocation.
  const graceEnd = now() + Math.min(Math.max(o.settleMs, PROBE_GRACE_MIN_MS), PROBE_GRACE_MAX_MS);
  while (probes.some((p) => !p.ok) && now() < graceEnd) {
    await ports.sleep(PROBE_RETRY_MS, o.signal);
    const s = await ports.systemd.snapshot(unit);
    samples.push(s);
    if (s.activeState !== 'active' || s.invocationId !== start.invocationId || s.nRestarts !== start.nRestarts) break;
    const again = await ports.probe(o.probes.filter((_, i) => !probes[i]!.ok));
    let k = 0;
    probes = probes.map((p) => (p.ok ? p : again[k++]!));
  }
  const logs = await ports.unitLogsSince(unit, since);
  const fileLogs = ports.logLinesSince(offsets);
  const verdict = classifyTrial({ jobResult, start, samples, probes, logs, fileLogs, knownErrors: o.knownErrors });
  return { ...verdict, logs: [...logs, ...fileLogs] };
}
