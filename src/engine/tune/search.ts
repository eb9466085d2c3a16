// The search phase: plans candidates from the observed facts and runs one planned step per call:
// a trial, retries with learned ReadWritePaths, and a check that each learned path is needed.
import { buildCandidates, type CandidateInput } from '../../core/candidates.js';
import { rejectedSinceBegin, rolledBackByUser, type JournalRecord } from '../../core/journal.js';
import { addedPaths, learnFromFailure, learnsPaths, withoutPaths, type LearnContext } from '../../core/learn.js';
import { SCOPE_PROPERTIES, isUnder, writableScope } from '../../core/paths.js';
import type { Planner } from '../../core/plan.js';
import type { SafetyFacts } from '../../core/policy.js';
import type { Rejection } from '../../core/search.js';
import { rungDeniesGroup } from '../../core/syscallFilter.js';
import { plannerFor } from '../../core/tunePlan.js';
import type { Setting, Verdict } from '../../core/types.js';
import type { TuneContext } from './context.js';
import type { TrialResult, Trials } from './trial.js';

/** How often one candidate may be retried with more learned ReadWritePaths. */
const MAX_LEARN_ROUNDS = 4;
const SCF = 'SystemCallFilter';
/** The strongest filter's chance once a trial under SystemCallLog= passed with none of its calls. */
const LOGGED_CLEAN_PRIOR = 0.9;


export class Search {
  private planner!: Planner;
  /** SystemCallFilter rungs already revised from the kernel's records. */
  private readonly revised = new Set<string>();

  constructor(
    private readonly c: TuneContext,
    private readonly trials: Trials,
  ) {}

  /** Builds the candidates and the planner; journals the skipped options (a resumed tune has). */
  async plan(records: readonly JournalRecord[], facts: SafetyFacts): Promise<void> {
    const { c } = this;
    const { ports, o } = c;
    c.scope = writableScope(o.unit, await ports.systemd.serviceProperties(o.unit, [...SCOPE_PROPERTIES]));
    c.platform ??= await ports.platform(o.unit);
    const input: CandidateInput = {
      catalog: c.catalog,
      platform: c.platform,
      eff: await ports.systemd.serviceProperties(o.unit, c.props),
      accepted: c.accepted,
      rolledBack: rolledBackByUser(records),
      rejected: o.resume ? rejectedSinceBegin(records) : new Set<string>(),
      facts,
      declarations: o.declarations,
      writableScope: c.scope,
    };
    const { candidates, skipped } = o.within ? o.within.candidates({ ...input, realDir: ports.realDir?.bind(ports) }) : buildCandidates(input);
    for (const s of skipped) {
      // a resumed tune's skips were journaled by the run that began it: reported, not journaled again
      if (!o.resume) c.record({ kind: 'skipped', ...s });
      else c.note({ kind: 'skipped', ...s });
    }
    if (!o.resume) c.phase('search', 'begin');
    const planner = o.within ? o.within.planner(candidates) : plannerFor(o.strategy, candidates, facts); // the one `autoharden plan` previews
    this.planner = planner;
    c.remainingTrials = () => (c.phases.ended.has('search') ? 0 : planner.estimateRemaining());
  }

  /** Runs the next planned step; false when the search is over. */
  async step(): Promise<boolean> {
    const { c } = this;
    // a resumed tune whose search ended does not search again (inferred rejections are not journaled)
    let settings = c.phases.ended.has('search') ? undefined : this.planner.next();
    if (!settings || !c.mayRun(settings)) {
      this.noteInferred();
      if (!c.phases.ended.has('search')) c.phase('search', 'end', c.stopped ? `stopped: ${c.stopped}` : undefined);
      return false;
    }
    const ctx: LearnContext = { scope: c.scope, isDir: (p) => c.ports.isDirectory(p), realDir: c.ports.realDir?.bind(c.ports) };
    // apply stays within its profile: no paths learned beyond what it holds
    const maxRounds = c.o.within ? 0 : MAX_LEARN_ROUNDS;
    // a log-only verdict that names paths to learn is retried with them before any control run
    const retryFirst = (round: number, s: Setting[]) => ({
      deferControl: (v: Verdict) => {
        if (round >= maxRounds) return false;
        const learned = learnFromFailure(s, v.evidence, ctx);
        return learned !== undefined && c.mayRun(learned);
      },
    });
    let { verdict, ineffective } = await this.trials.next(settings, retryFirst(0, settings));
    // ProtectSystem=strict failing on a read-only path: retry with that directory writable.
    const planned = settings;
    let since = c.ports.now();
    for (let round = 0; !verdict.ok && round < maxRounds; round++) {
      // Every line may teach, noise included: what it can teach is confined to the unit's own
      // directories (the allow-list) and kept only where the service then writes.
      const learned = learnFromFailure(settings, verdict.evidence, ctx);
      if (!learned || !c.mayRun(learned)) break;
      const tried = settings.map((s) => `${s.option}=${s.value}`).join(' ');
      c.note({ kind: 'retried', trial: c.trialNo });
      c.ports.progress({ type: 'info', message: `learned writable paths from: ${tried}` });
      settings = learned;
      since = c.ports.now();
      ({ verdict, ineffective } = await this.trials.next(settings, retryFirst(round + 1, settings)));
    }
    const learnedPaths = addedPaths(planned, settings);
    if (verdict.ok && learnedPaths.length && !ineffective.some((o) => learnsPaths(o))) {
      ({ settings, verdict, ineffective } = await this.keepWritten(settings, learnedPaths, since, { verdict, ineffective }));
    }
    // read back out of force for want of an option it is judged with (not in this trial, not
    // accepted): tried again untested, once
    const deferred = ineffective.filter((o) => this.mayDefer(o, settings));
    ineffective = ineffective.filter((o) => !deferred.includes(o));
    this.planner.report(verdict.ok, ineffective, deferred);
    if (!c.o.within) this.learnFromKernel();
    // the step's verdict rests on the last trial it ran
    c.note({ kind: 'judged', trial: c.trialNo, ineffective, ...(deferred.length ? { deferred } : {}) });
    if (verdict.ok) c.accept(settings.filter((s) => !ineffective.includes(s.option) && !deferred.includes(s.option)));
    return true;
  }

  private readonly deferredOnce = new Set<string>();

  private mayDefer(option: string, settings: readonly Setting[]): boolean {
    const deps = this.c.byName.get(option)?.judgedWith;
    if (!deps?.length || this.deferredOnce.has(option)) return false;
    const present = new Set([...this.c.accepted, ...settings].map((s) => s.option));
    if (deps.every((d) => present.has(d))) return false;
    this.deferredOnce.add(option);
    return true;
  }

  /** A retry with learned paths passed: keeps the learned directories the service wrote during it
   * (something in them changed since `since`, or it holds a file there open for writing). The
   * rest were not needed: one more trial without them stands if it passes; if it fails, the
   * trials show they are needed after all, and the set that passed runs again. */
  private async keepWritten(settings: Setting[], learned: string[], since: Date, passed: TrialResult) {
    const { ports, o } = this.c;
    let open: string[] = [];
    try {
      open = (await ports.observe(o.unit)).facts.writableDirs ?? [];
    } catch {
      /* no processes to look at: only the file system counts */
    }
    const unwritten = learned.filter((d) => !open.some((f) => isUnder(f, d)) && !(ports.changedSince?.(d, since) ?? false));
    // past the limits the set that passed stands, learned paths and all: it is verified
    if (unwritten.length === 0 || !this.c.mayRun(settings, 3)) return { settings, ...passed };
    ports.progress({ type: 'info', message: `dropped learned writable paths the service did not write during trial #${this.c.trialNo}: ${unwritten.join(' ')}` });
    const reduced = withoutPaths(settings, unwritten);
    // The set that passed is in the accepted drop-in now, and systemd adds up ReadWritePaths= across
    // drop-ins: left there, it would give the trial every learned path back. The trial restarts.
    ports.dropins.writeAccepted(o.unit, this.c.accepted.filter((a) => !settings.some((s) => s.option === a.option)), this.c.where);
    const r = await this.trials.next(reduced);
    if (r.verdict.ok) return { settings: reduced, ...r };
    ports.progress({ type: 'info', message: `kept ${unwritten.join(' ')}: trial #${this.c.trialNo} without them failed (${r.verdict.reason})` });
    return { settings, ...(await this.trials.next(settings)) };
  }

  /** What the kernel recorded the unit calling revises SystemCallFilter's untried rungs: a rung
   * denying a group it calls is rejected without a trial (journaled as skipped, with the calls);
   * a logged trial that passed with no such call raises the strongest rung's chance (it is still
   * verified by a trial). The minimisation keeps the groups it calls (facts.syscallGroupsUsed). */
  private learnFromKernel(): void {
    const { c } = this;
    const watch = c.syscalls;
    const spec = c.byName.get(SCF);
    if (!spec?.ladder || !this.planner.revise) return;
    const used = [...watch.used.keys()];
    if (used.length && c.facts) c.facts = { ...c.facts, syscallGroupsUsed: used };
    for (const rung of spec.ladder) {
      const denied = used.filter((g) => rungDeniesGroup(rung.lines, g));
      if (!denied.length || this.revised.has(rung.value)) continue;
      const reason = `the kernel recorded ${watch.describe(denied)}: a filter denying ${denied.map((g) => `@${g}`).join(' ')} kills it`;
      if (this.planner.revise(SCF, rung.value, { reject: reason })) {
        this.revised.add(rung.value);
        c.record({ kind: 'skipped', option: SCF, value: rung.value, reason });
        c.ports.progress({ type: 'info', message: `${SCF}=${rung.value} not tried: ${reason}` });
      }
    }
    const strongest = spec.ladder[0];
    if (strongest && !used.length && watch.loggedPasses > 0 && !this.revised.has(strongest.value)) {
      if (this.planner.revise(SCF, strongest.value, { prior: LOGGED_CLEAN_PRIOR })) this.revised.add(strongest.value);
    }
  }

  /** Group testing rejects a setting without a trial of its own when its failed batch's other
   * half passed: the journal has the batch; the report names the setting. */
  private noteInferred(): void {
    const planner = this.planner as Planner & { rejected?: () => Rejection[] };
    if (!planner.rejected) return;
    for (const r of planner.rejected()) if (r.reason === 'inferred') this.c.note({ kind: 'inferred', setting: r.setting });
  }
}
