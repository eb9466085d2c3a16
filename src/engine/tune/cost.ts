// The cost phase (--workload): measure the accepted set against the unit without autoharden's
// drop-ins and drop argument-inspecting options while the set is over the budget.
import { CostMeasurement, describeCost, higherIsBetter, type Config, type CostDecision, type WorkloadSpec } from '../../core/cost.js';
import { costOn } from '../../core/catalog.js';
import { AutohardenError } from '../../core/errors.js';
import type { Setting } from '../../core/types.js';
import { restartAndJudge } from '../settle.js';
import { WORKLOAD_TIMEOUT_MS, type TuneContext } from './context.js';

const DEFAULT_BUDGET = 0.05;
const DEFAULT_MEASURE_RESTARTS = 40;

/** Measures the accepted set against the unit without autoharden's drop-ins; while it is over
 * the budget, drops the argument-inspecting option of least exposure weight (journaled as
 * too-costly) and measures again. */
export async function costPhase(c: TuneContext, spec: WorkloadSpec): Promise<void> {
  const { ports, o } = c;
  const budget = o.budget ?? DEFAULT_BUDGET;
  let restartsLeft = o.measureRestarts ?? DEFAULT_MEASURE_RESTARTS;
  // --max-restarts: one kept back to end on the accepted set
  const allowed = c.restartsLeft();
  if (allowed !== undefined) restartsLeft = Math.min(restartsLeft, Math.max(0, allowed - 1));
  const weight = (s: Setting) => c.byName.get(s.option)?.weight ?? 0;
  // the class on this platform: MemoryDenyWriteExecute by prctl costs no filter
  const costOf = (s: Setting) => {
    const spec = c.byName.get(s.option);
    return spec && (c.platform ? costOn(spec, c.platform) : spec.cost);
  };
  const costly = c.accepted.filter((s) => costOf(s) === 'seccomp-args').sort((a, b) => weight(a) - weight(b));
  let set = [...c.accepted];
  let running: Config | null = 'B'; // the unit runs the accepted set now
  for (;;) {
    const m = new CostMeasurement({ budget, higherIsBetter: higherIsBetter(spec), maxPairs: 12, restartsLeft }, running);
    for (let steps = m.next(); steps.length; steps = m.next()) {
      for (const step of steps) {
        c.checkAbort();
        if (step.restart) await runConfig(c, step.config === 'A' ? [] : set);
        m.record(step, await ports.runWorkload(spec, WORKLOAD_TIMEOUT_MS));
        ports.fault('cost-pair');
      }
    }
    restartsLeft -= m.restarts;
    running = m.running;
    const d: CostDecision | undefined = m.decision();
    if (!d) {
      c.warnings.push(`no restarts left to measure the cost of ${set.length} options (--measure-restarts)`);
      break;
    }
    const description = describeCost(d);
    c.record({
      kind: 'cost', options: set.map((s) => s.option), verdict: d.verdict, ratio: d.ratio, spread: d.spread,
      lower: d.lower, upper: d.upper, pairs: d.pairs, budget, atBound: d.atBound, description,
    });
    ports.progress({ type: 'info', message: `cost of ${set.length} options: ${d.verdict} ${description}` });
    const drop = d.verdict === 'over' ? costly.find((s) => set.includes(s)) : undefined;
    if (!drop) break;
    set = set.filter((s) => s !== drop);
    const trial = ++c.trialNo;
    const reason = `the whole set costs ${description}; dropped the argument-inspecting option of least exposure weight`;
    c.record({ kind: 'trial-begin', trial, settings: [drop] });
    c.record({
      kind: 'trial-end', trial, settings: [drop], outcome: 'too-costly', verdict: 'cost', reason, evidence: [],
      cost: { ratio: d.ratio, spread: d.spread },
    });
    running = null;
  }
  c.accepted = set;
  // end on the accepted set: the drop-in as the journal has it, and the unit running it
  ports.dropins.writeAccepted(o.unit, set, c.where);
  await ports.systemd.reload();
  if (running !== 'B') await runConfig(c, set);
}

/** Restarts the unit into a configuration for a measurement; it must come up healthy. */
async function runConfig(c: TuneContext, settings: Setting[]): Promise<void> {
  const { ports, o } = c;
  ports.dropins.writeAccepted(o.unit, settings, c.where);
  await ports.systemd.reload();
  c.counts.restarts++;
  const v = await restartAndJudge(ports, o.unit, { settleMs: Math.min(o.settleMs, 1000), probes: o.probes, signal: o.signal, meter: c.downtime });
  if (!v.ok) throw new AutohardenError('Failed', `${o.unit} is unhealthy while measuring its cost: ${v.reason}`);
}
