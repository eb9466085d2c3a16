// The confirm phase (adaptive): one restart of the complete accepted set with a longer settle,
// and on failure a bisection for the setting to blame.
import { AutohardenError } from '../../core/errors.js';
import type { Setting } from '../../core/types.js';
import { restartAndJudge, watchAndJudge } from '../settle.js';
import { MAX_NOISE_ROUNDS, type TuneContext } from './context.js';
import type { Trials } from './trial.js';

/** The confirmation trial of the whole accepted set settles this many times longer. */
const CONFIRM_SETTLE_FACTOR = 3;

/** The confirmation of a set the unit already runs: no restart, the same judgment. */
async function watchInPlace(c: TuneContext) {
  const { ports, o } = c;
  ports.progress({ type: 'info', message: `confirming the accepted set on the running ${o.unit} (it already runs it): no restart` });
  ports.fault('confirm');
  return watchAndJudge(ports, o.unit, { settleMs: o.settleMs * CONFIRM_SETTLE_FACTOR, probes: o.probes, signal: o.signal, meter: c.downtime, ...c.watch });
}

/** Batches were judged on top of partial sets, and some failures take longer to show. On failure,
 * bisect the acceptance order for the shortest failing prefix: its last setting is the culprit
 * (log2(n) restarts, and no innocent setting is lost); roll it back and confirm again. */
export async function confirm(c: TuneContext, trials: Trials): Promise<void> {
  const { ports, o } = c;
  const settleMs = o.settleMs * CONFIRM_SETTLE_FACTOR;
  const run = async (settings: Setting[]) => {
    c.checkAbort();
    ports.dropins.writeAccepted(o.unit, settings, c.where);
    await ports.systemd.reload();
    ports.fault(settings.length < c.accepted.length ? 'bisect' : 'confirm');
    c.counts.restarts++;
    return restartAndJudge(ports, o.unit, { settleMs, probes: o.probes, signal: o.signal, meter: c.downtime, ...c.watch });
  };
  const judge = async (settings: Setting[]) => {
    let v = await run(settings);
    // the control of a confirmation is the unit without any of autoharden's settings
    for (let round = 0; v.kind === 'log-error' && round < MAX_NOISE_ROUNDS; round++) {
      ports.dropins.writeAccepted(o.unit, [], c.where);
      await ports.systemd.reload();
      if (!(await trials.controlExplains(v, settleMs))) break;
      v = await run(settings);
    }
    return v;
  };
  // The unit runs the whole set already when the trial that accepted its last setting (or a revert
  // to it) started the current invocation: watching that invocation for the longer settle confirms
  // it without a restart.
  // Not with a setting systemd stops enforcing at a daemon-reload (lostOnReload): the reload that
  // moved the trial into the accepted file came after that invocation started.
  const fragile = c.accepted.some((s) => c.byName.get(s.option)?.lostOnReload);
  let verdict = !fragile && trials.runs(c.accepted) ? await watchInPlace(c) : undefined;
  // a failure seen in place is confirmed by the restart (and its control runs) as before
  if (!verdict?.ok) verdict = await judge(c.accepted);
  trials.reverted(); // the confirmation restart runs the accepted set: it is the revert
  trials.started(undefined);
  while (!verdict.ok && c.accepted.length) {
    let good = 0; // the empty prefix is the unit as it was: healthy (preflight)
    let bad = c.accepted.length;
    while (bad - good > 1) {
      const mid = (good + bad) >> 1;
      if ((await judge(c.accepted.slice(0, mid))).ok) good = mid;
      else bad = mid;
    }
    const culprit = c.accepted[bad - 1]!;
    // `by: 'guard'` for readers that know only 'guard' and 'user'; `phase` says who it was
    c.record({ kind: 'rollback', by: 'guard', phase: 'confirm', options: [culprit.option], reason: `confirmation of the whole set failed (${verdict.reason}); bisection points at it` });
    c.note({ kind: 'culprit', setting: culprit, reason: verdict.reason });
    c.accepted = c.accepted.filter((s) => s !== culprit);
    verdict = await judge(c.accepted);
  }
  if (!verdict.ok) throw new AutohardenError('Failed', `${o.unit} is unhealthy even without any accepted option: ${verdict.reason}`);
}
