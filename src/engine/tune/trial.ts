// One trial: write the drop-in → Reload → read back what systemd applied → restart → judge
// (with control windows for log-only evidence) → journal → keep or revert. Phases call run().
import { AutohardenError } from '../../core/errors.js';
import { errorSignatures, isKnown, noiseSignatures } from '../../core/logcheck.js';
import { inForce } from '../../core/setting.js';
import type { Setting, Verdict } from '../../core/types.js';
import { restartAndJudge } from '../settle.js';
import { MAX_NOISE_ROUNDS, type TuneContext } from './context.js';

export interface TrialResult {
  verdict: Verdict;
  ineffective: string[];
}

export interface TrialOptions {
  /** A verdict resting on log lines that the caller will act on first (a retry with the writable
   * paths they name): its control run waits, since a retry that passes makes it moot. */
  deferControl?: (v: Verdict) => boolean;
}

export class Trials {
  /** A failed trial whose revert restart has not happened yet (adaptive). */
  private revertPending: Setting[] | undefined;
  private failedInARow = 0;
  /** The set the unit's current invocation runs, when a restart of this session started it. */
  private running: string | undefined;

  constructor(private readonly c: TuneContext) {}

  /** Runs the next trial number on `proposed`. */
  next(proposed: Setting[], opts: TrialOptions = {}): Promise<TrialResult> {
    return this.run(++this.c.trialNo, proposed, opts);
  }

  /** The restart that ran the accepted set alone happened elsewhere (the confirmation's): no revert is due. */
  reverted(): void {
    this.revertPending = undefined;
  }

  /** Whether the unit's current invocation was started by this session with exactly `settings`
   * (the trial that accepted the last of them, or a revert to them): a confirmation can watch it
   * instead of restarting. */
  runs(settings: readonly Setting[]): boolean {
    return this.running !== undefined && this.running === setKey(settings);
  }

  /** A restart elsewhere (the confirmation's) started the unit with `settings`. */
  started(settings: readonly Setting[] | undefined): void {
    this.running = settings && setKey(settings);
  }

  async run(trial: number, proposed: Setting[], opts: TrialOptions = {}): Promise<TrialResult> {
    const { c } = this;
    const { ports, o } = c;
    const { unit } = o;
    const started = { ms: ports.now().getTime(), restarts: c.counts.restarts };
    ports.progress({ type: 'trial', trial, settings: proposed, ...c.progressCounts(trial) });
    c.record({ kind: 'trial-begin', trial, settings: proposed });
    const watch = c.syscalls.before(proposed);
    ports.dropins.writeTrial(unit, proposed, watch.lines);
    ports.fault('after-dropin');
    await ports.systemd.reload();
    ports.fault('after-reload');

    // An unknown key or bad value in a drop-in is only a warning to systemd: read back what it applied.
    const eff = await ports.systemd.serviceProperties(unit, c.props);
    const ineffective = proposed
      .filter((s) => !inForce(s, eff, c.catalog))
      .map((s) => s.option);
    let settings = proposed.filter((s) => !ineffective.includes(s.option));
    // An accepted setting judged with others (OptionSpec.judgedWith) can fall out of force when a
    // candidate lands: NoExecPaths= naming /tmp, once ProtectSystem=strict arrives without a
    // private /tmp, would keep /tmp writable through its own mount. The trial runs without it; if
    // the trial passes, it is rolled back for good, else it stays.
    const lapsed = settings.length ? c.accepted.filter((a) => c.byName.get(a.option)?.judgedWith?.length && !inForce(a, eff, c.catalog)) : [];
    if (lapsed.length) ports.dropins.writeAccepted(unit, c.accepted.filter((a) => !lapsed.includes(a)), c.where);
    if ((ineffective.length && settings.length) || lapsed.length) {
      ports.dropins.writeTrial(unit, settings, watch.lines);
      await ports.systemd.reload();
    }

    let verdict: Verdict;
    /** The unit already runs its accepted set: a control window came after the trial. */
    let controlled = false;
    let restarted = false;
    if (settings.length === 0) {
      verdict = { ok: false, kind: 'not-effective', reason: `systemd did not apply ${ineffective.join(', ')} (read back over D-Bus)`, evidence: [] };
      settings = proposed;
    } else {
      c.counts.trials++;
      c.counts.restarts++;
      restarted = true;
      this.running = undefined; // the restart runs the candidate; what runs after is set below
      const failureShown = c.syscalls.killShown(watch);
      const judge = () => restartAndJudge(ports, unit, { settleMs: o.settleMs, probes: o.probes, signal: o.signal, faults: true, meter: c.downtime, ...(failureShown ? { failureShown } : {}), ...c.watch });
      verdict = await judge();
      // a noise round costs two restarts (control, judge again); past the limits the verdict stands
      for (let round = 0; verdict.kind === 'log-error' && !opts.deferControl?.(verdict) && round < MAX_NOISE_ROUNDS && c.mayRun(settings, 3); round++) {
        // control: the unit without the candidate, as long as the trial ran
        ports.dropins.removeTrial(unit);
        await ports.systemd.reload();
        const explained = await this.controlExplains(verdict);
        controlled = true;
        if (!explained) break;
        ports.dropins.writeTrial(unit, settings, watch.lines);
        await ports.systemd.reload();
        c.counts.restarts++;
        verdict = await judge();
        controlled = false;
      }
    }

    if (restarted) await c.syscalls.after(watch, verdict.ok);
    const outcome = verdict.ok ? 'accepted' : 'rejected';
    c.record({ kind: 'trial-end', trial, settings, outcome, verdict: verdict.kind, reason: verdict.reason, evidence: verdict.evidence, ...(verdict.cause ? { cause: verdict.cause } : {}) });
    c.timing.ms += ports.now().getTime() - started.ms;
    c.timing.restarts += c.counts.restarts - started.restarts;
    ports.progress({ type: 'verdict', trial, settings, outcome, reason: verdict.reason, ...c.progressCounts(trial) });
    if (verdict.ok) {
      this.failedInARow = 0;
      this.revertPending = undefined;
      if (lapsed.length) {
        c.accepted = c.accepted.filter((a) => !lapsed.includes(a));
        const names = lapsed.map((a) => a.option);
        c.record({ kind: 'rollback', by: 'guard', phase: 'search', options: names, reason: `out of force once ${settings.map((s) => s.option).join(', ')} passed (read back over D-Bus): kept, it would undo part of them` });
        ports.progress({ type: 'info', message: `rolled back ${names.join(', ')}: out of force with trial #${trial}'s settings, which passed` });
      }
      // Same effective config, moved from the trial file into the accepted one: no restart needed.
      const next = [...c.accepted.filter((a) => !settings.some((s) => s.option === a.option)), ...settings];
      ports.dropins.writeAccepted(unit, next, c.where);
      ports.dropins.removeTrial(unit);
      await ports.systemd.reload();
      this.running = setKey(next);
      return { verdict, ineffective };
    }
    if (lapsed.length) ports.dropins.writeAccepted(unit, c.accepted, c.where);
    ports.dropins.removeTrial(unit);
    await ports.systemd.reload();
    if (controlled) {
      this.revertPending = undefined; // the control window ran the accepted set: it was the revert
      this.running = setKey(c.accepted);
    } else if (verdict.kind !== 'not-effective') {
      this.failedInARow++;
      this.revertPending = settings;
      // The adaptive strategy lets the next trial's restart do the revert (one restart less per
      // failure: the unit is already down), but checks the accepted set alone after two failures
      // in a row, so that a unit broken for another reason does not get every candidate rejected.
      if (o.strategy !== 'adaptive' || this.failedInARow >= (o.within?.failuresBeforeRevert ?? 2)) await this.revert();
    }
    return { verdict, ineffective };
  }

  /** A verdict that rests only on new log lines is evidence, not proof: the service and its
   * clients write those logs. Restarts the unit into its control configuration (the caller has
   * written it) for as long as the trial settled and reads what it logs there. Lines of the same
   * kind from the same source showing up without the candidate are noise: learned (ignored from
   * now on) and true is returned, so the caller judges the candidate again. Otherwise the lines
   * are attributable to the candidate. Either way the unit runs the control configuration now. */
  async controlExplains(verdict: Verdict, settleMs = this.c.o.settleMs): Promise<boolean> {
    const { ports, o, watch } = this.c;
    this.c.counts.restarts++;
    // the log files are read (not judged: no knownErrors) so that their noise is learned too
    const control = await restartAndJudge(ports, o.unit, { settleMs, probes: o.probes, signal: o.signal, logFiles: watch.logFiles, meter: this.c.downtime });
    if (!control.ok) throw new AutohardenError('Failed', `${o.unit} is unhealthy without the candidate too: ${control.reason}`);
    const known = watch.knownErrors;
    for (const s of errorSignatures(control.logs)) known.add(s);
    const noise = noiseSignatures(control.logs);
    const explained = verdict.evidence.every((l) => isKnown(known, l) || isKnown(noise, l));
    if (explained) {
      for (const s of noise) known.add(s);
      ports.progress({ type: 'info', message: `log lines of that kind also appear without the candidate: noise, judging again (${verdict.reason.slice(0, 160)})` });
    }
    return explained;
  }

  /** Restart with the accepted set only and require it healthy (a failed trial left pending). */
  async revert(): Promise<void> {
    const settings = this.revertPending;
    if (!settings) return;
    const { ports, o, watch } = this.c;
    this.c.counts.restarts++;
    const back = await restartAndJudge(ports, o.unit, { settleMs: o.settleMs, probes: o.probes, meter: this.c.downtime });
    // Whatever the unit logs in its own configuration is not the sandbox's doing.
    for (const s of errorSignatures(back.logs)) watch.knownErrors.add(s);
    if (!back.ok) {
      throw new AutohardenError('Failed', `${o.unit} did not come back after reverting ${settings.map((s) => s.option).join(', ')}: ${back.reason}`);
    }
    this.revertPending = undefined;
    this.failedInARow = 0;
    this.running = setKey(this.c.accepted);
  }
}

/** Identifies a set of settings by what it writes, in any order. */
function setKey(settings: readonly Setting[]): string {
  return JSON.stringify(settings.map((s) => [s.option, s.lines]).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)));
}
