// A tune session sequences the phases: recover → preflight → observe → search → minimise →
// cost → confirm → persist. It runs one trial per step() so that the daemon can interleave units.
// The phases perform; the planners in core decide; the report is folded from what was journaled.
import type { AnalyzeRow, AnalyzeRows } from '../../core/analyzeRows.js';
import { acceptedSet, lastTrialNumber, lastTuneBegin, phaseFold, type JournalRecord } from '../../core/journal.js';
import { platformFingerprint } from '../../core/platform.js';
import type { TuneReport } from '../../core/report.js';
import type { SyscallGroups } from '../../core/syscallGroups.js';
import type { OptionSpec } from '../../core/types.js';
import type { Ports } from '../ports.js';
import { recoverUnit } from '../recover.js';
import { AutohardenError } from '../../core/errors.js';
import { restartAndJudge } from '../settle.js';
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

  /** A setting systemd stops enforcing at a daemon-reload (SocketBindDeny, core/types.ts
   * lostOnReload) is in force again only after a restart: one more, judged like a trial's, when
   * the tune reloaded after its last restart. A failure here is the same set that passed its
   * confirmation failing: it is reported, not bisected. */
  private async restartIfLostOnReload(): Promise<void> {
    const { c } = this;
    const { ports, o } = c;
    const fragile = c.accepted.filter((s) => c.byName.get(s.option)?.lostOnReload);
    if (fragile.length === 0 || !reloadedSinceRestart(o, o.persist && c.accepted.length > 0)) return;
    c.counts.restarts++;
    ports.progress({ type: 'info', message: `restarting ${o.unit} once more: systemd stops enforcing ${fragile.map((s) => s.option).join(', ')} at a daemon-reload until the unit restarts` });
    const v = await restartAndJudge(ports, o.unit, { settleMs: o.settleMs, probes: o.probes, signal: o.signal, meter: c.downtime, ...c.watch });
    if (!v.ok) throw new AutohardenError('Failed', `${o.unit} failed the restart that puts ${fragile.map((s) => s.option).join(', ')} in force again: ${v.reason}`);
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
    c.useWeights(await exposureRows(c));

    const records = ports.journal.read();
    if (!o.resume) {
      // what it was tuned on, for a later reader to tell an upgrade (core/upgrade.ts)
      c.platform = await ports.platform(o.unit);
      const platform = platformFingerprint(c.platform);
      const profile = o.within ? { profile: o.within.profile } : {};
      c.record({ kind: 'tune-begin', strategy: o.strategy, probes: o.probes.map((p) => p.raw), exposure: c.counts.exposureBefore, platform, ...profile, ...checksOf(c.rows), declarations: o.declarations });
    }
    c.where = ports.dropins.acceptedWhere(o.unit) ?? 'run';
    c.accepted = acceptedSet(records);
    if (o.resume) {
      c.phases = phaseFold(records);
      // the limits hold for the whole tune, not per daemon run: its journaled trials (a restart
      // each, at least) and its begin count
      const begun = Date.parse(lastTuneBegin(records)?.t ?? '');
      c.before = { restarts: c.phases.trials, ms: Number.isFinite(begun) ? Math.max(0, c.t0 - begun) : 0 };
      c.stopped = stoppedBefore(records);
      if (c.phases.open) ports.progress({ type: 'info', message: `${o.unit}: the ${c.phases.open} phase was under way when tuning stopped; it runs again` });
    }
    c.trialNo = lastTrialNumber(records);
    await this.search.plan(records, facts);
    await c.syscalls.begin();
    if (c.syscalls.unavailable) {
      const w = `the kernel log cannot tell which system calls ${o.unit} makes (${c.syscalls.unavailable}): SystemCallFilter is found by trials alone`;
      c.warnings.push(w);
      ports.progress({ type: 'info', message: `warning: ${w}` });
    }
  }

  /** Runs the next trial (search, then minimisation); false when both are over (call finish()). */
  async step(): Promise<boolean> {
    this.c.checkAbort();
    // apply (o.within) takes the profile's settings as they are: nothing is minimised
    return (await this.search.step()) || (!this.c.o.within && this.minimise.step());
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
      const max = o.limits?.maxRestarts;
      // a failed confirmation bisects whatever the limit: a set that failed is never left in force
      if (max !== undefined && c.counts.restarts > max) c.warnings.push(`the confirmation of the accepted set failed; finding the setting to blame took ${c.counts.restarts - max} restarts past --max-restarts ${max}`);
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
    await this.restartIfLostOnReload();
    c.counts.exposureAfter = await ports.exposure(o.unit);
    c.counts.durationMs = ports.now().getTime() - c.t0;
    c.counts.downtimeMs = c.downtime.ms(ports.now().getTime());
    const { exposureBefore, exposureAfter, trials, restarts, durationMs, downtimeMs } = c.counts;
    // the checks as they end, for `report` (before and after, check by check)
    const after = await c.ports.exposureRows?.(o.unit).catch(() => undefined);
    const stop = c.stopped ? { stoppedBy: c.stopped } : {};
    c.record({ kind: 'tune-end', exposureBefore, exposureAfter, trials, restarts, durationMs, downtimeMs, complete: !c.stopped, ...stop, ...checksOf(after) });
    return c.report();
  }
}

/** True when the last daemon-reload came after the last restart: persisting reloads, and without
 * the adaptive confirmation an accepted trial's reload is the last thing that happened. */
function reloadedSinceRestart(o: TuneOptions, persisted: boolean): boolean {
  return persisted || o.strategy !== 'adaptive';
}

/** Why the last tune's search or minimisation was stopped by its limits, as journaled in the
 * phase's end ("stopped: --max-restarts 4 reached"): a resumed tune ends as stopped too. */
function stoppedBefore(records: readonly JournalRecord[]): string | undefined {
  let why: string | undefined;
  for (const r of records) {
    if (r.kind === 'tune-begin') why = undefined;
    else if (r.kind === 'phase' && r.state === 'end' && r.detail?.startsWith('stopped: ')) why = r.detail.slice('stopped: '.length);
  }
  return why;
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

/** The running analyze's checks and weights; said once when unreadable (options are then
 * ordered by systemd 252's weights, and the unscored list by the catalog's). */
async function exposureRows(c: TuneContext): Promise<AnalyzeRows | undefined> {
  if (!c.ports.exposureRows) return undefined;
  const rows = await c.ports.exposureRows(c.o.unit).catch(() => undefined);
  if (!rows) c.ports.progress({ type: 'info', message: "could not read systemd-analyze's check weights (SYSTEMD_ANALYZE_DEBUG=1 systemd-analyze security --json=short): options are weighed by systemd 252's table" });
  return rows;
}

/** The checks as journaled (core/journal.ts): absent when analyze's rows could not be read. */
export function checksOf(rows: AnalyzeRows | undefined): { checks?: AnalyzeRow[] } {
  return rows ? { checks: rows.map((r) => ({ ...r })) } : {};
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
