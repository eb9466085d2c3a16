// A tune session sequences the phases: recover → preflight → observe → search → minimise →
// cost → confirm → persist. It runs one trial per step() so that the daemon can interleave units.
// The phases perform; the planners in core decide; the report is folded from what was journaled.
import { acceptedSet, lastTrialNumber, phaseFold } from '../../core/journal.js';
import type { TuneReport } from '../../core/report.js';
import type { SyscallGroups } from '../../core/syscallGroups.js';
import type { OptionSpec } from '../../core/types.js';
import type { Ports } from '../ports.js';
import { recoverUnit } from '../recover.js';
import { confirm } from './confirm.js';
import { TuneContext, type TuneOptions } from './context.js';
import { costPhase } from './cost.js';
import { Minimise } from './minimise.js';
import { observe, preflight, warmUp } from './preflight.js';
import { Search } from './search.js';
import { Trials } from './trial.js';

export class TuneSession {
  private readonly c: TuneContext;
  private readonly trials: Trials;
  private readonly search: Search;
  private readonly minimise: Minimise;

  constructor(ports: Ports, o: TuneOptions, catalog: readonly OptionSpec[]) {
    this.c = new TuneContext(ports, o, catalog);
    this.trials = new Trials(this.c);
    this.search = new Search(this.c, this.trials);
    this.minimise = new Minimise(this.c, this.trials);
  }

  /** The report so far (complete once finish() returned it). */
  get report(): TuneReport {
    return this.c.report();
  }

  /** Recover, check, observe and plan. Changes nothing on the unit unless a trial was left unfinished. */
  async begin(): Promise<void> {
    const { c } = this;
    const { ports, o } = c;
    const rec = await recoverUnit(ports, o.unit, { settleMs: o.settleMs, probes: o.probes });
    if (rec.restarted) c.counts.restarts++;
    await preflight(ports, o.unit, o.probes);
    await warmUp(c);
    const facts = await observe(c);
    c.useSyscallGroups(await syscallGroups(c));

    const records = ports.journal.read();
    if (!o.resume) {
      c.record({ kind: 'tune-begin', strategy: o.strategy, probes: o.probes.map((p) => p.raw), exposure: c.counts.exposureBefore });
    }
    c.where = ports.dropins.acceptedWhere(o.unit) ?? 'run';
    c.accepted = acceptedSet(records);
    if (o.resume) {
      c.phases = phaseFold(records);
      if (c.phases.open) ports.progress({ type: 'info', message: `${o.unit}: the ${c.phases.open} phase was under way when tuning stopped; it runs again` });
    }
    c.trialNo = lastTrialNumber(records);
    await this.search.plan(records, facts);
  }

  /** Runs the next trial (search, then minimisation); false when both are over (call finish()). */
  async step(): Promise<boolean> {
    this.c.checkAbort();
    return (await this.search.step()) || this.minimise.step();
  }

  /** Measures the cost (--workload), confirms the whole accepted set (adaptive), persists it, and scores the result. */
  async finish(): Promise<TuneReport> {
    const { c } = this;
    const { ports, o } = c;
    const { ended } = c.phases;
    await this.trials.revert();
    c.checkAbort();
    if (o.workload && !ended.has('cost')) {
      c.phase('cost', 'begin', c.options());
      await costPhase(c, o.workload);
      c.phase('cost', 'end');
    }
    c.checkAbort();
    // the trials of an earlier run of this tune count: a resumed one confirms what they accepted
    if (o.strategy === 'adaptive' && c.counts.trials + c.phases.trials > 0 && !ended.has('confirm')) {
      c.phase('confirm', 'begin', c.options());
      await confirm(c, this.trials);
      c.phase('confirm', 'end', c.options());
    }
    c.checkAbort();
    if (o.persist && c.accepted.length && !ended.has('persist')) {
      // redone whole after a crash: writing the same set again is harmless
      c.phase('persist', 'begin');
      const path = ports.dropins.writeAccepted(o.unit, c.accepted, 'etc');
      await ports.systemd.reload();
      ports.fault('persist');
      if (path) c.record({ kind: 'persisted', path });
      c.phase('persist', 'end');
    }
    c.counts.exposureAfter = await ports.exposure(o.unit);
    c.counts.durationMs = ports.now().getTime() - c.t0;
    const { exposureBefore, exposureAfter, trials, restarts, durationMs } = c.counts;
    c.record({ kind: 'tune-end', exposureBefore, exposureAfter, trials, restarts, durationMs });
    return c.report();
  }
}

/** The running systemd's system call groups; a warning when they cannot be read (a filter is then
 * judged by the static table, which newer systemd may contradict). */
async function syscallGroups(c: TuneContext): Promise<SyscallGroups | undefined> {
  if (!c.ports.syscallGroups) return undefined;
  const groups = await c.ports.syscallGroups().catch(() => undefined);
  if (!groups) {
    const w = "could not read systemd's system call groups (systemd-analyze syscall-filter): SystemCallFilter is judged by systemd 252's";
    c.warnings.push(w);
    c.ports.progress({ type: 'info', message: `warning: ${w}` });
  }
  return groups;
}

/** The whole loop in-process, as `autoharden tune` runs it. */
export async function tune(ports: Ports, o: TuneOptions, catalog: readonly OptionSpec[]): Promise<TuneReport> {
  const session = new TuneSession(ports, o, catalog);
  await session.begin();
  while (await session.step()) {
    /* one trial per step */
  }
  return session.finish();
}
