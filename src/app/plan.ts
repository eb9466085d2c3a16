// plan: what `tune` would do to a unit, without doing it — the ladders it would try, what it would
// skip and why, the trials the search would group first, the restarts to expect and the exposure
// after. In this process, like score. It takes no lock, writes nothing, journals nothing and
// restarts nothing: it reads the unit over D-Bus and /proc and the state directory's journal, and
// builds the candidates and the planner with the tune's own functions (core/candidates.ts,
// core/tunePlan.ts), so that plan and tune cannot disagree.
import type { AnalyzeRows } from '../core/analyzeRows.js';
import type { Skip } from '../core/candidates.js';
import type { Candidate } from '../core/plan.js';
import type { PriorCounts } from '../core/learnedPriors.js';
import type { Platform } from '../core/platform.js';
import type { BatchView, ExposurePrediction, LadderView, RestartEstimate } from '../core/preview.js';
import type { UnitObservation } from '../core/observe.js';
import type { Declarations, SafetyFacts } from '../core/policy.js';
import type { SyscallGroups } from '../core/syscallGroups.js';
import type { EffectiveSettings, OptionSpec } from '../core/types.js';
import type { ProgressEvent, SystemdPort } from '../engine/ports.js';
import { TUNE, type TuneRequest } from './tune.js';
import type { UseCase } from './useCase.js';

/** plan takes what tune takes (the same validation: a plan of a request tune refuses is refused). */
export type PlanRequest = TuneRequest;

export interface PlanSkip extends Skip {
  /** Decided only when tune runs: a throwaway check unit shows whether systemd enforces the
   * setting, and plan runs none. */
  atTune?: boolean;
}

export interface PlanReport {
  unit: string;
  strategy: PlanRequest['strategy'];
  exposureNow: number;
  /** Predicted from the running systemd-analyze's checks; null when they cannot be read. */
  exposureAfter: ExposurePrediction | null;
  /** Options tune would try, in the order the planner weighs them, rungs strongest first. */
  ladders: LadderView[];
  skipped: PlanSkip[];
  /** Accepted by an earlier tune and in force: not tried again. */
  accepted: string[];
  /** The first trials, on the path where each passes. */
  batches: BatchView[];
  /** Trials on that path. */
  batchesTotal: number;
  restarts: RestartEstimate;
  probes: Array<{ probe: string; ok: boolean; detail: string }>;
  warnings: string[];
  notes: string[];
}

export const PLAN: UseCase<'plan', PlanRequest, PlanReport> = {
  name: 'plan',
  parse: TUNE.parse,
};

/** What plan reads once per host (scan plans many units on it). */
export interface HostFacts {
  platform: Platform;
  groups: SyscallGroups | undefined;
  /** The host's learnt priors (app/priors.ts), as the tune weighs them. */
  priors?: PriorCounts;
}

export interface UnitPreview {
  candidates: Candidate[];
  skipped: PlanSkip[];
  accepted: string[];
  facts: SafetyFacts;
  rows: AnalyzeRows | undefined;
  eff: EffectiveSettings;
  catalog: readonly OptionSpec[];
  observation: UnitObservation;
  /** The journal holds a trial that never ended: tune reverts it first (a restart). */
  unfinished: boolean;
}

/** Read the platform without the check units the tune runs (they reload systemd). */
export async function hostFacts(systemd: SystemdPort, unit: string, o?: { stateDir: string; warn: (m: string) => void }): Promise<HostFacts> {
  const [{ readPlatform, readSyscallGroups }, { hostCounts }] = await Promise.all([import('../compose/preview.js'), import('./priors.js')]);
  const priors = o ? { priors: hostCounts(o.stateDir, o.warn) } : {};
  return { platform: await readPlatform(systemd, unit), groups: await readSyscallGroups().catch(() => undefined), ...priors };
}

const NOT_CHECKED = /was not checked \(it reports the setting either way\)/;

/** The candidates tune would build for a running unit: Search.plan's inputs, read the same way. */
export async function previewUnit(systemd: SystemdPort, unit: string, host: HostFacts, o: { stateDir: string; declarations: Declarations }): Promise<UnitPreview> {
  const [{ CATALOG }, { withWeights }, { withSyscallGroups }, { buildCandidates }, { acceptedSet, rolledBackByUser, unfinishedTrial }, { SCOPE_PROPERTIES, writableScope }, { allProperties }, pv, { withPriorCounts }] = await Promise.all([
    import('../core/catalog.js'), import('../core/analyzeRows.js'), import('../core/syscallGroups.js'), import('../core/candidates.js'),
    import('../core/journal.js'), import('../core/paths.js'), import('../engine/tune/context.js'), import('../compose/preview.js'), import('../core/learnedPriors.js'),
  ]);
  const records = pv.journalFor(o.stateDir, unit).read();
  const observed = await pv.observeService(systemd, unit);
  const rows = await pv.exposureRows(unit).catch(() => undefined);
  // the tune's order (session.ts begin): the running systemd's groups, then its weights; the learnt
  // priors as app/local.ts gives them to the tune
  const catalog = withWeights(withSyscallGroups(withPriorCounts(CATALOG, host.priors), host.groups), rows);
  const eff = await systemd.serviceProperties(unit, allProperties(CATALOG));
  const accepted = acceptedSet(records);
  const { candidates, skipped } = buildCandidates({
    catalog,
    platform: host.platform,
    eff,
    accepted,
    rolledBack: rolledBackByUser(records),
    rejected: new Set(),
    facts: observed.facts,
    declarations: o.declarations,
    writableScope: writableScope(unit, await systemd.serviceProperties(unit, [...SCOPE_PROPERTIES])),
  });
  return {
    candidates,
    skipped: skipped.map((s) => (NOT_CHECKED.test(s.reason) ? { ...s, reason: `${s.reason}; tune checks it with a throwaway unit first, plan runs none`, atTune: true } : s)),
    accepted: accepted.map((s) => `${s.option}=${s.value}`),
    facts: observed.facts,
    rows,
    eff,
    catalog,
    observation: observed.observation,
    unfinished: unfinishedTrial(records) !== undefined,
  };
}

export async function plan(req: PlanRequest, o: { stateDir: string; progress: (e: ProgressEvent) => void }): Promise<PlanReport> {
  const { requireRoot } = await import('./local.js');
  requireRoot(); // the unit's processes and D-Bus properties are root's to read
  const { unit } = req;
  const [pv, { ERR }, { refuseProtectedUnit }, { probeBlindSpots }, { probeWarnings }, preview] = await Promise.all([
    import('../compose/preview.js'), import('../core/errors.js'), import('../core/protectedUnits.js'), import('../core/observe.js'),
    import('../engine/tune/preflight.js'), import('../core/preview.js'),
  ]);
  const systemd = await pv.Systemd.connect();
  try {
    const info = await systemd.unitInfo(unit);
    refuseProtectedUnit('tune', unit, info); // tune would refuse it: so does its plan
    if (info.loadState !== 'loaded') throw new ERR.NotLoaded(unit, info.loadState);
    if (info.activeState !== 'active') throw new ERR.NotRunning(unit, info.activeState);
    const host = await hostFacts(systemd, unit, { stateDir: o.stateDir, warn: (m) => o.progress({ type: 'info', message: `WARNING: ${m}` }) });
    const declarations = { allowNet: req.allowNet, localOnly: req.localOnly, confineSessions: req.confineSessions };
    const u = await previewUnit(systemd, unit, host, { stateDir: o.stateDir, declarations });
    const probes = (await pv.runProbes(req.probes)).map((p) => ({ probe: p.probe, ok: p.ok, detail: p.detail }));
    const exposureNow = await pv.exposure(unit);
    const { batches, total } = preview.firstBatches(req.strategy, u.candidates, u.facts);
    const restarts = preview.estimateRestarts({ strategy: req.strategy, cands: u.candidates, facts: u.facts, eff: u.eff, catalog: u.catalog });
    return {
      unit,
      strategy: req.strategy,
      exposureNow,
      exposureAfter: preview.predictExposure(u.rows, u.candidates, u.facts) ?? null,
      ladders: preview.ladders(u.candidates, u.facts),
      skipped: u.skipped,
      accepted: u.accepted,
      batches,
      batchesTotal: total,
      restarts,
      probes,
      warnings: probeWarnings(u.facts, probeBlindSpots(req.probes, u.observation)),
      notes: planNotes(req, u, probes),
    };
  } finally {
    systemd.close();
  }
}

function planNotes(req: PlanRequest, u: UnitPreview, probes: PlanReport['probes']): string[] {
  const notes: string[] = [];
  const failing = probes.filter((p) => !p.ok);
  if (failing.length) notes.push(`tune would refuse to start: probe ${failing[0]!.probe} fails now (${failing[0]!.detail})`);
  if (u.unfinished) notes.push('the journal holds a trial that never ended: tune first reverts it (one more restart)');
  if (req.probes.length === 0) notes.push('no --probe: trials are judged by the unit staying up alone (active, same invocation, no restarts)');
  const costly = u.candidates.filter((c) => c.spec.cost === 'seccomp-args').map((c) => c.spec.name);
  if (costly.length && !req.workload) notes.push(`${costly.join(', ')} install seccomp filters that inspect arguments: without --workload their run-time cost is not measured (tune tries them anyway)`);
  if (req.workload) notes.push(`with --workload the cost phase adds up to ${req.measureRestarts} restarts (--measure-restarts)`);
  if (!u.rows) notes.push("systemd-analyze's check weights could not be read: options are weighed by systemd 252's table, and no exposure after is predicted");
  const { maxRestarts, maxTimeMs } = req as { maxRestarts?: number; maxTimeMs?: number };
  if (maxRestarts !== undefined) notes.push(`--max-restarts ${maxRestarts}: tune stops at the last safe point before it, keeping what it verified`);
  if (maxTimeMs !== undefined) notes.push(`--max-time ${Math.round(maxTimeMs / 1000)}s: tune stops at the last safe point before it, keeping what it verified`);
  return notes;
}
