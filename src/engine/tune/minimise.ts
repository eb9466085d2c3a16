// The minimise phase: after the search, shrink the set-valued settings it accepted (capability
// those whose catalog entry says how to minimise them), one trial per step.
import { minimisationPlans, type MinimisationPlan } from '../../core/minimize.js';
import type { TuneContext } from './context.js';
import type { Trials } from './trial.js';

type MinimizeTask = MinimisationPlan;

export class Minimise {
  private tasks: MinimizeTask[] | undefined;

  constructor(
    private readonly c: TuneContext,
    private readonly trials: Trials,
  ) {}

  /** Runs the next minimisation trial; false when there is none left. */
  async step(): Promise<boolean> {
    const { c } = this;
    if (!this.tasks) {
      // begun and not ended: planned again from the accepted set, which holds every step it accepted;
      // a tune stopped by its limits minimises nothing
      this.tasks = c.phases.ended.has('minimise') || c.stopped ? [] : await this.plan();
      if (this.tasks.length) c.phase('minimise', 'begin', c.phases.open === 'minimise' ? 'again' : undefined);
    }
    for (let task = this.tasks[0]; task; task = this.tasks[0]) {
      const group = task.m.next();
      if (!group) {
        this.tasks.shift();
        continue;
      }
      const step = task.make([...task.m.removed(), ...group]);
      if (!c.mayRun([step])) {
        this.tasks = [];
        break;
      }
      c.checkAbort();
      c.ports.fault('minimise');
      const { verdict } = await this.trials.next([step]);
      task.m.report(verdict.ok);
      if (verdict.ok) c.accept([step]);
      return true;
    }
    if (c.phases.open === 'minimise') c.phase('minimise', 'end', c.stopped ? `stopped: ${c.stopped}` : undefined);
    return false;
  }

  /** What each accepted set-valued setting's catalog entry says can be shrunk. */
  private async plan(): Promise<MinimizeTask[]> {
    const { c } = this;
    const eff = await c.ports.systemd.serviceProperties(c.o.unit, c.props);
    return minimisationPlans(c.accepted, eff, c.facts, c.o.strategy, c.catalog);
  }
}
