// Restart a unit and watch it settle: the one sequence every trial, revert, rollback and
// recovery shares.
import { classifyTrial } from '../core/classify.js';
import type { ProbeSpec, UnitSnapshot, Verdict } from '../core/types.js';
import type { DowntimeMeter } from './downtime.js';
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
  /** Counts the time without service (the tune's downtime). */
  meter?: DowntimeMeter;
  /** A record the service cannot write that shows a failure of one of its processes (a seccomp
   * kill in the kernel log); it ends a probe's wait, never rejects by itself. */
  failureShown?: () => string | undefined;
}

const SAMPLE_MS = 200;
const PROBE_RETRY_MS = 250;
const PROBE_GRACE_MIN_MS = 1000;
const PROBE_GRACE_MAX_MS = 5000;
/** The probe again once a failure showed: a service that answers at all answers within this. */
const QUICK_PROBE_MS = 1000;

/** ResetFailed (clears the start rate limit), Restart (job awaited race-free by the adapter),
 * then sample the unit through the settle period and run every probe. */
export async function restartAndJudge(ports: Ports, unit: string, o: SettleOptions): Promise<Verdict & { logs: string[] }> {
  const since = ports.now();
  const offsets = ports.logOffsets(o.logFiles ?? []);
  await ports.systemd.resetFailed(unit);
  o.meter?.restarting(since.getTime());
  const jobResult = await ports.systemd.restart(unit, o.restartTimeoutMs ?? 90_000);
  return judgeRunning(ports, unit, o, { jobResult, since, offsets });
}

/** Watches the invocation that runs now for the settle period, without restarting it: the
 * confirmation of a set the unit already runs (the trial that accepted it started it). */
export async function watchAndJudge(ports: Ports, unit: string, o: SettleOptions): Promise<Verdict & { logs: string[] }> {
  return judgeRunning(ports, unit, o, { jobResult: 'done', since: ports.now(), offsets: ports.logOffsets(o.logFiles ?? []) });
}

async function judgeRunning(
  ports: Ports,
  unit: string,
  o: SettleOptions,
  run: { jobResult: string; since: Date; offsets: ReturnType<Ports['logOffsets']> },
): Promise<Verdict & { logs: string[] }> {
  const { jobResult, since, offsets } = run;
  // the ports' clock, not Date: engine tests run on virtual time
  const now = () => ports.now().getTime();
  const start = await ports.systemd.snapshot(unit);
  const samples: UnitSnapshot[] = [];
  const end = now() + o.settleMs;
  let served = false;
  if (jobResult === 'done') {
    // For Type=simple the job is done right after fork, before the sandbox is even applied.
    while (now() < end) {
      await ports.sleep(Math.min(SAMPLE_MS, Math.max(0, end - now())), o.signal);
      const s = await ports.systemd.snapshot(unit);
      samples.push(s);
      if (o.faults) ports.fault('during-settle');
      if (down(start, s)) break;
      // when the service serves again counts for the downtime; the verdict is the probes' after the settle
      if (o.meter && !served && (await ports.probe(o.probes, { timeoutMs: QUICK_PROBE_MS })).every((p) => p.ok)) {
        served = true;
        o.meter.serving(now());
      }
    }
  }
  const last = samples.at(-1) ?? start;
  const healthy = jobResult === 'done' && last.activeState === 'active' && last.invocationId === start.invocationId;
  if (healthy && o.faults) ports.fault('during-probe');
  // A service still starting up (a busy machine, a slow runtime) is not a broken one: failed
  // probes are asked again for a short grace (from the first ask) while the unit stays up in the
  // same invocation.
  const graceEnd = now() + Math.min(Math.max(o.settleMs, PROBE_GRACE_MIN_MS), PROBE_GRACE_MAX_MS);
  let probes = healthy ? await probeWatching(ports, unit, start, o, samples) : [];
  while (probes.some((p) => !p.ok) && now() < graceEnd) {
    await ports.sleep(PROBE_RETRY_MS, o.signal);
    const s = await ports.systemd.snapshot(unit);
    samples.push(s);
    if (down(start, s)) break;
    const again = await ports.probe(o.probes.filter((_, i) => !probes[i]!.ok), { timeoutMs: Math.max(QUICK_PROBE_MS, graceEnd - now()) });
    let k = 0;
    probes = probes.map((p) => (p.ok ? p : again[k++]!));
  }
  // serving at the end of the settle, or down since (at the latest) now: a unit that died after
  // its first answer is down until a restart serves again
  if (healthy && probes.every((p) => p.ok)) o.meter?.serving(now());
  else o.meter?.restarting(now());
  const logs = await ports.unitLogsSince(unit, since);
  const fileLogs = ports.logLinesSince(offsets);
  const verdict = classifyTrial({ jobResult, start, samples, probes, logs, fileLogs, knownErrors: o.knownErrors });
  return { ...verdict, logs: [...logs, ...fileLogs] };
}

/** The unit left the invocation `start` saw: not active, another invocation, or restarted. */
const down = (start: UnitSnapshot, s: UnitSnapshot) =>
  s.activeState !== 'active' || s.invocationId !== start.invocationId || s.nRestarts !== start.nRestarts;

/** Runs the probes while watching the unit: when systemd shows it failed, or a record the service
 * cannot write shows a process of it killed, the waiting probe is cut short instead of running
 * into its timeout. The unit's state decides by itself (the samples carry it to the classifier);
 * a kernel record only ends the wait: the probes are asked again at once, with a short timeout,
 * and their answer decides. Paced by real timers: it only matters while a probe really waits. */
async function probeWatching(ports: Ports, unit: string, start: UnitSnapshot, o: SettleOptions, samples: UnitSnapshot[]) {
  const cut = new AbortController();
  let settled = false;
  let shown: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    if (settled) return;
    const s = await ports.systemd.snapshot(unit).catch(() => undefined);
    if (settled) return;
    if (s && down(start, s)) {
      samples.push(s);
      cut.abort();
      return;
    }
    shown = o.failureShown?.();
    if (shown) {
      cut.abort();
      return;
    }
    timer = setTimeout(() => void tick(), SAMPLE_MS);
  };
  timer = setTimeout(() => void tick(), SAMPLE_MS);
  try {
    const probes = await ports.probe(o.probes, { signal: cut.signal });
    settled = true;
    if (!shown || probes.every((p) => p.ok)) return probes;
    ports.progress({ type: 'info', message: `${shown}: asking the probes again at once` });
    return await ports.probe(o.probes, { timeoutMs: QUICK_PROBE_MS });
  } finally {
    settled = true;
    clearTimeout(timer);
  }
}
