// After an upgrade (systemd or the kernel changed since the unit was tuned): its accepted set is
// restarted once, as is, and judged by its probes and systemd's record of the start — autoharden's
// own trial, whose verdict counts as a tune's does. Nothing new is tried. A failure is checked
// against the unit without any of autoharden's settings first (a tune's preflight proved that
// healthy; after an upgrade it must be proved again): if that fails too, the upgrade broke the
// service, not its sandbox, and nothing is relaxed. Otherwise the confirmation's bisection
// (tune/confirm.ts) finds what no longer works and rolls it back, journaled.
import { acceptedSet } from '../core/journal.js';
import { NO_DECLARATIONS } from '../core/policy.js';
import type { OptionSpec, ProbeSpec } from '../core/types.js';
import type { Fingerprint } from '../core/upgrade.js';
import type { Ports } from './ports.js';
import { restartAndJudge } from './settle.js';
import { confirm } from './tune/confirm.js';
import { TuneContext, type LogWatch } from './tune/context.js';
import { Trials } from './tune/trial.js';

/** Settles as long as the confirmation of a tune does: some failures take longer to show. */
const SETTLE_FACTOR = 3;

export interface ReverifyOptions {
  unit: string;
  probes: ProbeSpec[];
  settleMs: number;
  catalog: readonly OptionSpec[];
  signal?: AbortSignal;
  /** The unit's log files and the errors it logged before it was tuned. */
  watch?: LogWatch;
  /** The platform now, the one it was verified on, and what differs. */
  platform: Fingerprint;
  from: Fingerprint;
  changes: string[];
}

export interface ReverifyResult {
  outcome: 'ok' | 'rolled-back' | 'unhealthy';
  /** Options rolled back. */
  options: string[];
  reason: string;
}

/** Journals a `reverify` record at the end (not before: a verification cut short is done again). */
export async function reverify(ports: Ports, o: ReverifyOptions): Promise<ReverifyResult> {
  const { unit } = o;
  const accepted = acceptedSet(ports.journal.read());
  const done = (r: ReverifyResult): ReverifyResult => {
    ports.journal.append({ kind: 'reverify', ...r, platform: o.platform, from: o.from, changes: o.changes });
    return r;
  };
  if (accepted.length === 0) return done({ outcome: 'ok', options: [], reason: 'nothing accepted: nothing to verify' });
  const where = ports.dropins.acceptedWhere(unit) ?? 'run';
  const watch = o.watch ?? { logFiles: [], knownErrors: new Set<string>() };
  const settleMs = o.settleMs * SETTLE_FACTOR;
  const judged = { settleMs, probes: o.probes, ...(o.signal ? { signal: o.signal } : {}) };
  ports.progress({ type: 'info', message: `${unit}: re-verifying its accepted set after ${o.changes.join(', ')}` });
  const first = await restartAndJudge(ports, unit, { ...judged, ...watch });
  if (first.ok) return done({ outcome: 'ok', options: [], reason: `healthy with its accepted set as is: ${first.reason}` });

  // the control: the unit without any of autoharden's settings
  ports.dropins.writeAccepted(unit, [], where);
  await ports.systemd.reload();
  const control = await restartAndJudge(ports, unit, { ...judged, logFiles: watch.logFiles });
  if (!control.ok) {
    ports.dropins.writeAccepted(unit, accepted, where);
    await ports.systemd.reload();
    await restartAndJudge(ports, unit, judged);
    return done({
      outcome: 'unhealthy', options: [],
      reason: `fails with its accepted set (${first.reason}) and without any of it too (${control.reason}): not the sandbox's doing; nothing relaxed`,
    });
  }

  const c = new TuneContext(ports, {
    unit, probes: o.probes, settleMs: o.settleMs, strategy: 'adaptive', persist: false, declarations: NO_DECLARATIONS,
    ...(o.signal ? { signal: o.signal } : {}),
  }, o.catalog);
  c.accepted = [...accepted];
  c.where = where;
  c.watch = { logFiles: watch.logFiles, knownErrors: new Set(watch.knownErrors) };
  // the whole set again, then the bisection for what fails; each culprit journaled as a rollback
  await confirm(c, new Trials(c));
  const options = accepted.filter((s) => !c.accepted.includes(s)).map((s) => s.option);
  return done(options.length
    ? { outcome: 'rolled-back', options, reason: `failed with its accepted set as is (${first.reason}) and healthy without it; bisection rolled back ${options.join(', ')}` }
    : { outcome: 'ok', options, reason: `failed once (${first.reason}), then healthy with its accepted set as is` });
}
