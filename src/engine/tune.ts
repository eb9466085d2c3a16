// The trial loop: write candidate → Reload → verify it took effect → ResetFailed → Restart →
// settle → probes → verdict → journal → next. The planner decides; this only performs.
// A TuneSession runs one trial per step() so that the daemon can interleave units.
import { buildCandidates } from '../core/candidates.js';
import { CostMeasurement, describeCost, higherIsBetter, type Config, type CostDecision, type WorkloadSpec } from '../core/cost.js';
import { AutohardenError } from '../core/errors.js';
import { acceptedSet, lastTrialNumber, phaseFold, rolledBackByUser, type JournalRecord, type Phase, type PhaseFold } from '../core/journal.js';
import { addedPaths, baseValue, learnFromFailure, withoutPaths, type LearnContext } from '../core/learn.js';
import { errorSignatures, isKnown, noiseSignatures } from '../core/logcheck.js';
import { LIKELY_FREE_CAPS, Minimizer, capabilityItems, capabilityStep, syscallItems, syscallStep, type MinimizeStep } from '../core/minimize.js';
import { probeBlindSpots } from '../core/observe.js';
import { SCOPE_PROPERTIES, isUnder, writableScope, type WritableScope } from '../core/paths.js';
import { OneAtATime, type Planner } from '../core/plan.js';
import { likelyFreeCaps, observedPrior } from '../core/priors.js';
import type { Declarations, SafetyFacts } from '../core/policy.js';
import { refuseProtectedUnit } from '../core/protectedUnits.js';
import { Adaptive } from '../core/search.js';
import type { EffectiveSettings, OptionSpec, ProbeSpec, Setting, Verdict } from '../core/types.js';
import type { Ports, Where } from './ports.js';
import { recoverUnit } from './recover.js';
import { restartAndJudge } from './settle.js';

export interface TuneOptions {
  unit: string;
  probes: ProbeSpec[];
  settleMs: number;
  strategy: 'one-at-a-time' | 'adaptive';
  persist: boolean;
  declarations: Declarations;
  signal?: AbortSignal;
  /** Continue the last unfinished tune of this unit (daemon restart) instead of starting anew. */
  resume?: boolean;
  /** Cost-aware tuning: the workload that measures the service, the slowdown it may take
   * (fraction, 0.05 = 5 %), and how many restarts measuring may spend. */
  workload?: WorkloadSpec;
  budget?: number;
  measureRestarts?: number;
}

export interface CostSummary {
  options: string[];
  verdict: string;
  ratio: number;
  spread: number;
  description: string;
}

export interface Outcome {
  option: string;
  value: string;
  reason: string;
  safety?: string;
}

export interface TuneReport {
  unit: string;
  exposureBefore: number;
  exposureAfter: number;
  trials: number;
  restarts: number;
  durationMs: number;
  accepted: Outcome[];
  rejected: Outcome[];
  skipped: Outcome[];
  warnings: string[];
  persistedTo?: string;
  /** The measured cost of the accepted set (with --workload). */
  cost?: CostSummary;
}

/** What one tune run knows about the unit's logs: files to read and errors seen before. */
interface LogWatch {
  logFiles: string[];
  knownErrors: Set<string>;
}

const PREFLIGHT_PROBE_RUNS = 3;
/** The confirmation trial of the whole accepted set settles this many times longer. */
const CONFIRM_SETTLE_FACTOR = 3;
/** How often one candidate may be retried with more learned ReadWritePaths. */
const MAX_LEARN_ROUNDS = 4;
/** How often one verdict may be judged again after its log lines turned out to be noise: each
 * round costs two restarts and teaches at least one new kind of noise, so a noisy client cannot
 * stall a tune for long. */
const MAX_NOISE_ROUNDS = 3;
const DEFAULT_BUDGET = 0.05;
const DEFAULT_MEASURE_RESTARTS = 40;
const WORKLOAD_TIMEOUT_MS = 120_000;

export function allProperties(catalog: readonly OptionSpec[]): string[] {
  return [...new Set(catalog.flatMap((o) => o.properties))];
}

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
  if (info.loadState !== 'loaded') throw new AutohardenError('UnitUnknown', `${unit} is not loaded (LoadState=${info.loadState})`);
  if (info.activeState !== 'active') {
    throw new AutohardenError('UnitUnknown', `${unit} is not running (ActiveState=${info.activeState}); start it first`);
  }
  for (let i = 0; i < PREFLIGHT_PROBE_RUNS; i++) {
    const failed = (await ports.probe(probes)).find((p) => !p.ok);
    if (failed) {
      throw new AutohardenError('Failed', `probe ${failed.probe} fails before any change (${failed.detail}); fix the probe or the service first`);
    }
  }
}

function inForce(spec: OptionSpec | undefined, value: string, eff: EffectiveSettings): boolean {
  const rung = spec?.ladder.find((r) => r.value === baseValue(value));
  return rung ? rung.inForce(eff) : false;
}

interface MinimizeTask {
  m: Minimizer;
  make(removed: readonly string[]): MinimizeStep;
}

/** option=value pairs rejected since the last tune-begin: a resumed tune does not retry them. */
function rejectedSinceBegin(records: readonly JournalRecord[]): Set<string> {
  const out = new Set<string>();
  for (const r of records) {
    if (r.kind === 'tune-begin') out.clear();
    if (r.kind === 'trial-end' && r.outcome !== 'accepted' && r.settings.length === 1) {
      out.add(`${r.settings[0]!.option}=${r.settings[0]!.value}`);
    }
  }
  return out;
}

export class TuneSession {
  readonly report: TuneReport;
  private planner!: Planner;
  private accepted: Setting[] = [];
  private where: Where = 'run';
  private trialNo = 0;
  private watch: LogWatch = { logFiles: [], knownErrors: new Set() };
  private readonly byName: Map<string, OptionSpec>;
  private readonly props: string[];
  private readonly t0 = Date.now();
  /** The phases of this tune as journaled (I2): a resumed session continues the one begun and
   * skips the ended ones, so a crash in the finish never skips a confirmation or persists a set
   * that failed it. */
  private phases: PhaseFold = { ended: new Set(), open: undefined, trials: 0 };
  private minimizing: MinimizeTask[] | undefined;
  /** A failed trial whose revert restart has not happened yet (adaptive). */
  private revertPending: Setting[] | undefined;
  private failedInARow = 0;
  private facts: SafetyFacts | undefined;
  /** Where learned ReadWritePaths may point (the unit's own state directories and names). */
  private scope: WritableScope = { names: [], directories: [] };
  /** Checks for values the ladder does not list (minimisation steps), by option=value. */
  private readonly dynamic = new Map<string, (eff: EffectiveSettings) => boolean>();

  constructor(
    private readonly ports: Ports,
    private readonly o: TuneOptions,
    private readonly catalog: readonly OptionSpec[],
  ) {
    this.report = {
      unit: o.unit, exposureBefore: 0, exposureAfter: 0, trials: 0, restarts: 0, durationMs: 0,
      accepted: [], rejected: [], skipped: [], warnings: [],
    };
    this.byName = new Map(catalog.map((c) => [c.name, c]));
    this.props = allProperties(catalog);
  }

  /** Recover, check, observe and plan. Changes nothing on the unit unless a trial was left unfinished. */
  async begin(): Promise<void> {
    const { ports, o, report } = this;
    const { unit } = o;
    const rec = await recoverUnit(ports, unit, { settleMs: o.settleMs, probes: o.probes });
    if (rec.restarted) report.restarts++;
    await preflight(ports, unit, o.probes);
    if (o.workload) {
      // once on the untouched unit: a warm-up, and a workload that fails now is the user's to fix
      try {
        await ports.runWorkload(o.workload, WORKLOAD_TIMEOUT_MS);
      } catch (e) {
        throw new AutohardenError('Failed', `workload ${o.workload.raw} fails before any change: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    report.exposureBefore = await ports.exposure(unit);
    const observed = await ports.observe(unit);
    report.warnings = probeWarnings(observed.facts, probeBlindSpots(o.probes, observed.observation));
    for (const w of report.warnings) ports.progress({ type: 'info', message: `warning: ${w}` });
    this.watch = {
      logFiles: observed.logFiles,
      knownErrors: errorSignatures(await ports.recentLogs(unit, observed.logFiles)),
    };

    const records = ports.journal.read();
    if (!o.resume) {
      ports.journal.append({ kind: 'tune-begin', strategy: o.strategy, probes: o.probes.map((p) => p.raw), exposure: report.exposureBefore });
    }
    this.where = ports.dropins.acceptedWhere(unit) ?? 'run';
    this.accepted = acceptedSet(records);
    if (o.resume) {
      this.phases = phaseFold(records);
      if (this.phases.open) ports.progress({ type: 'info', message: `${unit}: the ${this.phases.open} phase was under way when tuning stopped; it runs again` });
    }
    this.trialNo = lastTrialNumber(records);
    this.scope = writableScope(unit, await ports.systemd.serviceProperties(unit, [...SCOPE_PROPERTIES]));
    const { candidates, skipped } = buildCandidates({
      catalog: this.catalog,
      systemdVersion: await ports.systemd.version(),
      eff: await ports.systemd.serviceProperties(unit, this.props),
      accepted: this.accepted,
      rolledBack: rolledBackByUser(records),
      rejected: o.resume ? rejectedSinceBegin(records) : new Set(),
      facts: observed.facts,
      declarations: o.declarations,
      writableScope: this.scope,
    });
    // Rungs the policy builds (IPAddressDeny from --allow-net) are not in the catalog's ladder.
    for (const c of candidates) for (const r of c.rungs) this.dynamic.set(`${c.spec.name}=${r.value}`, (eff) => r.inForce(eff));
    for (const s of skipped) {
      if (!o.resume) ports.journal.append({ kind: 'skipped', ...s });
      report.skipped.push({ ...s, safety: this.byName.get(s.option)?.safety });
    }
    if (!o.resume) this.phase('search', 'begin');
    const facts = observed.facts;
    this.facts = facts;
    this.planner = o.strategy === 'adaptive'
      ? new Adaptive(candidates, { priorOf: (c) => observedPrior(c.spec, facts) })
      : new OneAtATime(candidates);
  }

  /** Runs the next trial; false when the search is over (call finish()). */
  async step(): Promise<boolean> {
    if (this.o.signal?.aborted) throw new AutohardenError('Failed', 'interrupted');
    // a resumed tune whose search ended does not search again (inferred rejections are not journaled)
    let settings = this.phases.ended.has('search') ? undefined : this.planner.next();
    if (!settings) {
      this.reportInferred();
      if (!this.phases.ended.has('search')) this.phase('search', 'end');
      return this.minimizeStep();
    }
    this.trialNo++;
    let { verdict, ineffective } = await this.runTrial(this.trialNo, settings);
    // ProtectSystem=strict failing on a read-only path: retry with that directory writable.
    const planned = settings;
    let since = this.ports.now();
    const ctx: LearnContext = { scope: this.scope, isDir: (p) => this.ports.isDirectory(p), realDir: this.ports.realDir?.bind(this.ports) };
    for (let round = 0; !verdict.ok && round < MAX_LEARN_ROUNDS; round++) {
      // Every line may teach, noise included: what it can teach is confined to the unit's own
      // directories (the allow-list) and kept only where the service then writes.
      const learned = learnFromFailure(settings, verdict.evidence, ctx);
      if (!learned) break;
      const tried = settings.map((s) => `${s.option}=${s.value}`).join(' ');
      if (settings.length === 1) this.report.rejected.push(...settings.map((s) => ({ option: s.option, value: s.value, reason: `${verdict.reason} (retrying with the paths it named)` })));
      this.ports.progress({ type: 'info', message: `learned writable paths from: ${tried}` });
      settings = learned;
      this.trialNo++;
      since = this.ports.now();
      ({ verdict, ineffective } = await this.runTrial(this.trialNo, settings));
    }
    const learnedPaths = addedPaths(planned, settings);
    if (verdict.ok && learnedPaths.length && !ineffective.includes('ProtectSystem')) {
      ({ settings, verdict, ineffective } = await this.keepWritten(settings, learnedPaths, since, { verdict, ineffective }));
    }
    this.planner.report(verdict.ok, ineffective);
    const out = (s: Setting, reason: string) => ({ option: s.option, value: s.value, reason, safety: this.byName.get(s.option)?.safety });
    for (const s of settings) {
      if (ineffective.includes(s.option)) this.report.rejected.push(out(s, 'systemd did not apply it (read back over D-Bus)'));
    }
    const tried = settings.filter((s) => !ineffective.includes(s.option));
    if (verdict.ok) {
      this.accepted = [...this.accepted.filter((a) => !tried.some((s) => s.option === a.option)), ...tried];
      this.report.accepted = this.report.accepted.filter((a) => !tried.some((s) => s.option === a.option));
      this.report.accepted.push(...tried.map((s) => out(s, verdict.reason)));
    } else if (tried.length === 1) {
      // A failed batch of several says only that one of them breaks; the planner splits it.
      this.report.rejected.push(out(tried[0]!, verdict.reason));
    }
    return true;
  }

  /** A retry with learned paths passed: keeps the learned directories the service wrote during it
   * (something in them changed since `since`, or it holds a file there open for writing). The
   * rest were not needed: one more trial without them stands if it passes; if it fails, the
   * trials show they are needed after all, and the set that passed runs again. */
  private async keepWritten(settings: Setting[], learned: string[], since: Date, passed: { verdict: Verdict; ineffective: string[] }) {
    const { ports } = this;
    let open: string[] = [];
    try {
      open = (await ports.observe(this.o.unit)).facts.writableDirs ?? [];
    } catch {
      /* no processes to look at: only the file system counts */
    }
    const unwritten = learned.filter((d) => !open.some((f) => isUnder(f, d)) && !(ports.changedSince?.(d, since) ?? false));
    if (unwritten.length === 0) return { settings, ...passed };
    ports.progress({ type: 'info', message: `dropped learned writable paths the service did not write during trial #${this.trialNo}: ${unwritten.join(' ')}` });
    const reduced = withoutPaths(settings, unwritten);
    this.trialNo++;
    const r = await this.runTrial(this.trialNo, reduced);
    if (r.verdict.ok) return { settings: reduced, ...r };
    ports.progress({ type: 'info', message: `kept ${unwritten.join(' ')}: trial #${this.trialNo} without them failed (${r.verdict.reason})` });
    this.trialNo++;
    return { settings, ...(await this.runTrial(this.trialNo, settings)) };
  }

  /** Group testing rejects a setting without a trial of its own when its failed batch's other
   * half passed: the journal has the batch; the report names the setting. */
  private reportInferred(): void {
    if (!(this.planner instanceof Adaptive)) return;
    for (const r of this.planner.rejected()) {
      const s = r.setting;
      if (r.reason !== 'inferred' || this.report.rejected.some((x) => x.option === s.option && x.value === s.value)) continue;
      this.report.rejected.push({ option: s.option, value: s.value, reason: 'its batch failed and everything else in it passed', safety: this.byName.get(s.option)?.safety });
    }
  }

  /** After the search: shrink the set-valued settings it accepted, one trial per step. */
  private async minimizeStep(): Promise<boolean> {
    if (!this.minimizing) {
      // begun and not ended: planned again from the accepted set, which holds every step it accepted
      this.minimizing = this.phases.ended.has('minimise') ? [] : await this.planMinimization();
      if (this.minimizing.length) this.phase('minimise', 'begin', this.phases.open === 'minimise' ? 'again' : undefined);
    }
    for (let task = this.minimizing[0]; task; task = this.minimizing[0]) {
      const group = task.m.next();
      if (!group) {
        this.minimizing.shift();
        continue;
      }
      const step = task.make([...task.m.removed(), ...group]);
      this.dynamic.set(`${step.setting.option}=${step.setting.value}`, step.inForce);
      this.checkAbort();
      this.ports.fault('minimise');
      this.trialNo++;
      const { verdict } = await this.runTrial(this.trialNo, [step.setting]);
      task.m.report(verdict.ok);
      const out = { option: step.setting.option, value: step.setting.value, reason: verdict.reason, safety: this.byName.get(step.setting.option)?.safety };
      if (verdict.ok) {
        this.accepted = [...this.accepted.filter((a) => a.option !== step.setting.option), step.setting];
        this.report.accepted = [...this.report.accepted.filter((a) => a.option !== step.setting.option), out];
      } else {
        this.report.rejected.push(out);
      }
      return true;
    }
    if (this.phases.open === 'minimise') this.phase('minimise', 'end');
    return false;
  }

  private async planMinimization(): Promise<MinimizeTask[]> {
    const eff = await this.ports.systemd.serviceProperties(this.o.unit, this.props);
    const tasks: MinimizeTask[] = [];
    const caps = this.accepted.find((a) => a.option === 'CapabilityBoundingSet');
    if (caps && caps.value !== 'empty') {
      const items = capabilityItems(eff);
      const free = this.facts ? likelyFreeCaps(this.facts, LIKELY_FREE_CAPS) : LIKELY_FREE_CAPS;
      tasks.push({ m: new Minimizer(items, this.o.strategy, free), make: (removed) => capabilityStep(eff, removed) });
    }
    const scf = this.accepted.find((a) => a.option === 'SystemCallFilter');
    if (scf) {
      const items = syscallItems(eff);
      if (items.length) tasks.push({ m: new Minimizer(items, this.o.strategy), make: (removed) => syscallStep(scf, removed) });
    }
    return tasks;
  }

  /** Confirms the whole accepted set (adaptive), persists it, and scores the result. */
  async finish(): Promise<TuneReport> {
    const { ports, o, report } = this;
    const { ended } = this.phases;
    await this.revert();
    this.checkAbort();
    if (o.workload && !ended.has('cost')) {
      this.phase('cost', 'begin', this.accepted.map((s) => s.option).join(' '));
      await this.costPhase(o.workload);
      this.phase('cost', 'end');
    }
    this.checkAbort();
    // the trials of an earlier run of this tune count: a resumed one confirms what they accepted
    if (o.strategy === 'adaptive' && report.trials + this.phases.trials > 0 && !ended.has('confirm')) {
      this.phase('confirm', 'begin', this.accepted.map((s) => s.option).join(' '));
      await this.confirm();
      this.phase('confirm', 'end', this.accepted.map((s) => s.option).join(' '));
    }
    this.checkAbort();
    if (o.persist && this.accepted.length && !ended.has('persist')) {
      // redone whole after a crash: writing the same set again is harmless
      this.phase('persist', 'begin');
      const path = ports.dropins.writeAccepted(o.unit, this.accepted, 'etc');
      await ports.systemd.reload();
      ports.fault('persist');
      if (path) {
        ports.journal.append({ kind: 'persisted', path });
        report.persistedTo = path;
      }
      this.phase('persist', 'end');
    }
    report.exposureAfter = await ports.exposure(o.unit);
    report.durationMs = Date.now() - this.t0;
    ports.journal.append({
      kind: 'tune-end', exposureBefore: report.exposureBefore, exposureAfter: report.exposureAfter,
      trials: report.trials, restarts: report.restarts, durationMs: report.durationMs,
    });
    return report;
  }

  /** Measures the accepted set against the unit without autoharden's drop-ins; while it is over
   * the budget, drops the argument-inspecting option of least exposure weight (journaled as
   * too-costly) and measures again. */
  private async costPhase(spec: WorkloadSpec): Promise<void> {
    const { ports, o, report } = this;
    const budget = o.budget ?? DEFAULT_BUDGET;
    let restartsLeft = o.measureRestarts ?? DEFAULT_MEASURE_RESTARTS;
    const weight = (s: Setting) => this.byName.get(s.option)?.weight ?? 0;
    const costly = this.accepted.filter((s) => this.byName.get(s.option)?.cost === 'seccomp-args').sort((a, b) => weight(a) - weight(b));
    let set = [...this.accepted];
    let running: Config | null = 'B'; // the unit runs the accepted set now
    for (;;) {
      const m = new CostMeasurement({ budget, higherIsBetter: higherIsBetter(spec), maxPairs: 12, restartsLeft }, running);
      for (let steps = m.next(); steps.length; steps = m.next()) {
        for (const step of steps) {
          this.checkAbort();
          if (step.restart) await this.runConfig(step.config === 'A' ? [] : set);
          m.record(step, await ports.runWorkload(spec, WORKLOAD_TIMEOUT_MS));
          ports.fault('cost-pair');
        }
      }
      restartsLeft -= m.restarts;
      running = m.running;
      const d: CostDecision | undefined = m.decision();
      if (!d) {
        report.warnings.push(`no restarts left to measure the cost of ${set.length} options (--measure-restarts)`);
        break;
      }
      const description = describeCost(d);
      ports.journal.append({
        kind: 'cost', options: set.map((s) => s.option), verdict: d.verdict, ratio: d.ratio, spread: d.spread,
        lower: d.lower, upper: d.upper, pairs: d.pairs, budget, atBound: d.atBound, description,
      });
      report.cost = { options: set.map((s) => s.option), verdict: d.verdict, ratio: d.ratio, spread: d.spread, description };
      ports.progress({ type: 'info', message: `cost of ${set.length} options: ${d.verdict} ${description}` });
      const drop = d.verdict === 'over' ? costly.find((c) => set.includes(c)) : undefined;
      if (!drop) break;
      set = set.filter((s) => s !== drop);
      this.trialNo++;
      const reason = `the whole set costs ${description}; dropped the argument-inspecting option of least exposure weight`;
      ports.journal.append({ kind: 'trial-begin', trial: this.trialNo, settings: [drop] });
      ports.journal.append({
        kind: 'trial-end', trial: this.trialNo, settings: [drop], outcome: 'too-costly', verdict: 'cost', reason, evidence: [],
        cost: { ratio: d.ratio, spread: d.spread },
      });
      report.accepted = report.accepted.filter((a) => a.option !== drop.option);
      report.rejected.push({ option: drop.option, value: drop.value, reason: `too-costly: ${reason}`, safety: this.byName.get(drop.option)?.safety });
      running = null;
    }
    this.accepted = set;
    // end on the accepted set: the drop-in as the journal has it, and the unit running it
    ports.dropins.writeAccepted(o.unit, set, this.where);
    await ports.systemd.reload();
    if (running !== 'B') await this.runConfig(set);
  }

  /** Restarts the unit into a configuration for a measurement; it must come up healthy. */
  private async runConfig(settings: Setting[]): Promise<void> {
    const { ports, o, report } = this;
    ports.dropins.writeAccepted(o.unit, settings, this.where);
    await ports.systemd.reload();
    report.restarts++;
    const v = await restartAndJudge(ports, o.unit, { settleMs: Math.min(o.settleMs, 1000), probes: o.probes, signal: o.signal });
    if (!v.ok) throw new AutohardenError('Failed', `${o.unit} is unhealthy while measuring its cost: ${v.reason}`);
  }

  /** One restart of the complete accepted set with a longer settle: batches were judged on top
   * of partial sets, and some failures take longer to show. On failure, bisect the acceptance
   * order for the shortest failing prefix: its last setting is the culprit (log2(n) restarts, and
   * no innocent setting is lost); roll it back and confirm again. */
  private async confirm(): Promise<void> {
    const { ports, o, report } = this;
    const run = async (settings: Setting[]) => {
      this.checkAbort();
      ports.dropins.writeAccepted(o.unit, settings, this.where);
      await ports.systemd.reload();
      ports.fault(settings.length < this.accepted.length ? 'bisect' : 'confirm');
      report.restarts++;
      return restartAndJudge(ports, o.unit, { settleMs: o.settleMs * CONFIRM_SETTLE_FACTOR, probes: o.probes, signal: o.signal, ...this.watch });
    };
    const judge = async (settings: Setting[]) => {
      let v = await run(settings);
      // the control of a confirmation is the unit without any of autoharden's settings
      for (let round = 0; v.kind === 'log-error' && round < MAX_NOISE_ROUNDS; round++) {
        ports.dropins.writeAccepted(o.unit, [], this.where);
        await ports.systemd.reload();
        if (!(await this.controlExplains(v, o.settleMs * CONFIRM_SETTLE_FACTOR))) break;
        v = await run(settings);
      }
      return v;
    };
    let verdict = await judge(this.accepted);
    this.revertPending = undefined; // the confirmation restart runs the accepted set: it is the revert
    while (!verdict.ok && this.accepted.length) {
      let good = 0; // the empty prefix is the unit as it was: healthy (preflight)
      let bad = this.accepted.length;
      while (bad - good > 1) {
        const mid = (good + bad) >> 1;
        if ((await judge(this.accepted.slice(0, mid))).ok) good = mid;
        else bad = mid;
      }
      const culprit = this.accepted[bad - 1]!;
      ports.journal.append({ kind: 'rollback', by: 'guard', options: [culprit.option], reason: `confirmation of the whole set failed (${verdict.reason}); bisection points at it` });
      this.accepted = this.accepted.filter((s) => s !== culprit);
      report.accepted = report.accepted.filter((a) => a.option !== culprit.option);
      report.rejected.push({ option: culprit.option, value: culprit.value, reason: `confirmation failed: ${verdict.reason}` });
      verdict = await judge(this.accepted);
    }
    if (!verdict.ok) throw new AutohardenError('Failed', `${o.unit} is unhealthy even without any accepted option: ${verdict.reason}`);
  }

  private async runTrial(trial: number, proposed: Setting[]): Promise<{ verdict: Verdict; ineffective: string[] }> {
    const { ports, o, report } = this;
    const { unit } = o;
    ports.progress({ type: 'trial', trial, settings: proposed });
    ports.journal.append({ kind: 'trial-begin', trial, settings: proposed });
    ports.dropins.writeTrial(unit, proposed);
    ports.fault('after-dropin');
    await ports.systemd.reload();
    ports.fault('after-reload');

    // An unknown key or bad value in a drop-in is only a warning to systemd: read back what it applied.
    const eff = await ports.systemd.serviceProperties(unit, this.props);
    const ineffective = proposed
      .filter((s) => !(this.dynamic.get(`${s.option}=${s.value}`)?.(eff) ?? inForce(this.byName.get(s.option), s.value, eff)))
      .map((s) => s.option);
    let settings = proposed.filter((s) => !ineffective.includes(s.option));
    if (ineffective.length && settings.length) {
      ports.dropins.writeTrial(unit, settings);
      await ports.systemd.reload();
    }

    let verdict: Verdict;
    /** The unit already runs its accepted set: a control window came after the trial. */
    let controlled = false;
    if (settings.length === 0) {
      verdict = { ok: false, kind: 'not-effective', reason: `systemd did not apply ${ineffective.join(', ')} (read back over D-Bus)`, evidence: [] };
      settings = proposed;
    } else {
      report.trials++;
      report.restarts++;
      const judge = () => restartAndJudge(ports, unit, { settleMs: o.settleMs, probes: o.probes, signal: o.signal, faults: true, ...this.watch });
      verdict = await judge();
      for (let round = 0; verdict.kind === 'log-error' && round < MAX_NOISE_ROUNDS; round++) {
        // control: the unit without the candidate, as long as the trial ran
        ports.dropins.removeTrial(unit);
        await ports.systemd.reload();
        const explained = await this.controlExplains(verdict);
        controlled = true;
        if (!explained) break;
        ports.dropins.writeTrial(unit, settings);
        await ports.systemd.reload();
        report.restarts++;
        verdict = await judge();
        controlled = false;
      }
    }

    const outcome = verdict.ok ? 'accepted' : 'rejected';
    ports.journal.append({ kind: 'trial-end', trial, settings, outcome, verdict: verdict.kind, reason: verdict.reason, evidence: verdict.evidence });
    ports.progress({ type: 'verdict', trial, settings, outcome, reason: verdict.reason });
    if (verdict.ok) {
      this.failedInARow = 0;
      this.revertPending = undefined;
      // Same effective config, moved from the trial file into the accepted one: no restart needed.
      const next = [...this.accepted.filter((a) => !settings.some((s) => s.option === a.option)), ...settings];
      ports.dropins.writeAccepted(unit, next, this.where);
      ports.dropins.removeTrial(unit);
      await ports.systemd.reload();
      return { verdict, ineffective };
    }
    ports.dropins.removeTrial(unit);
    await ports.systemd.reload();
    if (controlled) {
      this.revertPending = undefined; // the control window ran the accepted set: it was the revert
    } else if (verdict.kind !== 'not-effective') {
      this.failedInARow++;
      this.revertPending = settings;
      // The adaptive strategy lets the next trial's restart do the revert (one restart less per
      // failure: the unit is already down), but checks the accepted set alone after two failures
      // in a row, so that a unit broken for another reason does not get every candidate rejected.
      if (o.strategy !== 'adaptive' || this.failedInARow >= 2) await this.revert();
    }
    return { verdict, ineffective };
  }

  /** A verdict that rests only on new log lines is evidence, not proof: the service and its
   * clients write those logs. Restarts the unit into its control configuration (the caller has
   * written it) for as long as the trial settled and reads what it logs there. Lines of the same
   * kind from the same source showing up without the candidate are noise: learned (ignored from
   * now on) and true is returned, so the caller judges the candidate again. Otherwise the lines
   * are attributable to the candidate. Either way the unit runs the control configuration now. */
  private async controlExplains(verdict: Verdict, settleMs = this.o.settleMs): Promise<boolean> {
    const { ports, o, report } = this;
    report.restarts++;
    // the log files are read (not judged: no knownErrors) so that their noise is learned too
    const control = await restartAndJudge(ports, o.unit, { settleMs, probes: o.probes, signal: o.signal, logFiles: this.watch.logFiles });
    if (!control.ok) throw new AutohardenError('Failed', `${o.unit} is unhealthy without the candidate too: ${control.reason}`);
    const known = this.watch.knownErrors;
    for (const s of errorSignatures(control.logs)) known.add(s);
    const noise = noiseSignatures(control.logs);
    const explained = verdict.evidence.every((l) => isKnown(known, l) || isKnown(noise, l));
    if (explained) {
      for (const s of noise) known.add(s);
      ports.progress({ type: 'info', message: `log lines of that kind also appear without the candidate: noise, judging again (${verdict.reason.slice(0, 160)})` });
    }
    return explained;
  }

  /** Stops at a safe point once the caller's signal fired (the CLI got SIGINT, SIGTERM or SIGHUP):
   * between phases and restarts, where the drop-ins and the journal agree or differ only in a way
   * recovery repairs (an accepted file that is not the journaled set makes it restart the unit). */
  private checkAbort(): void {
    if (this.o.signal?.aborted) throw new AutohardenError('Failed', 'interrupted');
  }

  /** Journals a phase's begin or end; a resumed session folds these (phaseFold). */
  private phase(phase: Phase, state: 'begin' | 'end', detail?: string): void {
    this.ports.journal.append(detail ? { kind: 'phase', phase, state, detail } : { kind: 'phase', phase, state });
    if (state === 'begin') this.phases.open = phase;
    else {
      this.phases.ended.add(phase);
      if (this.phases.open === phase) this.phases.open = undefined;
    }
  }

  /** Restart with the accepted set only and require it healthy. */
  private async revert(): Promise<void> {
    const settings = this.revertPending;
    if (!settings) return;
    const { ports, o, report } = this;
    report.restarts++;
    const back = await restartAndJudge(ports, o.unit, { settleMs: o.settleMs, probes: o.probes });
    // Whatever the unit logs in its own configuration is not the sandbox's doing.
    for (const s of errorSignatures(back.logs)) this.watch.knownErrors.add(s);
    if (!back.ok) {
      throw new AutohardenError('Failed', `${o.unit} did not come back after reverting ${settings.map((s) => s.option).join(', ')}: ${back.reason}`);
    }
    this.revertPending = undefined;
    this.failedInARow = 0;
  }
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
