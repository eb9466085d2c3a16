// The trial loop: write candidate → Reload → verify it took effect → ResetFailed → Restart →
// settle → probes → verdict → journal → next. The planner decides; this only performs.
import { renderRung, strongerRungs, usableOptions } from '../core/catalog.js';
import { AutohardenError } from '../core/errors.js';
import { acceptedSet, rolledBackByUser, lastTrialNumber } from '../core/journal.js';
import { errorSignatures } from '../core/logcheck.js';
import { probesOnlyLocal } from '../core/observe.js';
import { OneAtATime, type Candidate, type Planner } from '../core/plan.js';
import { applySafetyPolicy, type Declarations, type SafetyFacts } from '../core/policy.js';
import type { EffectiveSettings, OptionSpec, ProbeSpec, Setting, Verdict } from '../core/types.js';
import type { Ports } from './ports.js';
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
}

/** What one tune run knows about the unit's logs: files to read and errors seen before. */
interface LogWatch {
  logFiles: string[];
  knownErrors: Set<string>;
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
}

/** Warnings a person must read before trusting the probes. */
export function probeWarnings(facts: SafetyFacts, onlyLocal: boolean): string[] {
  const out: string[] = [];
  if (onlyLocal) {
    out.push(`every probe goes through loopback or a local command, but the unit listens on ${facts.nonLoopbackListeners.join(', ')}: the probes cannot see what remote clients see; options that restrict reach are held back by policy`);
  }
  if (facts.sessionEvidence.length) out.push(`the unit spawns login sessions (${facts.sessionEvidence.join('; ')})`);
  return out;
}

const PREFLIGHT_PROBE_RUNS = 3;

export function allProperties(catalog: readonly OptionSpec[]): string[] {
  return [...new Set(catalog.flatMap((o) => o.properties))];
}

/** Refuses, changing nothing, unless the unit is a loaded, active service whose probes pass. */
export async function preflight(ports: Ports, unit: string, probes: readonly ProbeSpec[]): Promise<void> {
  const info = await ports.systemd.unitInfo(unit);
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

function inForce(spec: OptionSpec, value: string, eff: EffectiveSettings): boolean {
  const rung = spec.ladder.find((r) => r.value === value);
  return rung ? rung.inForce(eff) : false;
}

export async function tune(ports: Ports, o: TuneOptions, catalog: readonly OptionSpec[]): Promise<TuneReport> {
  const t0 = Date.now();
  const { unit } = o;
  const report: TuneReport = {
    unit, exposureBefore: 0, exposureAfter: 0, trials: 0, restarts: 0, durationMs: 0, accepted: [], rejected: [], skipped: [], warnings: [],
  };
  const rec = await recoverUnit(ports, unit, { settleMs: o.settleMs, probes: o.probes });
  if (rec.restarted) report.restarts++;
  await preflight(ports, unit, o.probes);
  report.exposureBefore = await ports.exposure(unit);
  const observed = await ports.observe(unit);
  report.warnings = probeWarnings(observed.facts, probesOnlyLocal(o.probes, observed.observation));
  for (const w of report.warnings) ports.progress({ type: 'info', message: `warning: ${w}` });
  const watch: LogWatch = {
    logFiles: observed.logFiles,
    knownErrors: errorSignatures(await ports.recentLogs(unit, observed.logFiles)),
  };

  const records = ports.journal.read();
  ports.journal.append({ kind: 'tune-begin', strategy: o.strategy, probes: o.probes.map((p) => p.raw), exposure: report.exposureBefore });
  const where = ports.dropins.acceptedWhere(unit) ?? 'run';
  let accepted: Setting[] = acceptedSet(records);
  const userRolledBack = rolledBackByUser(records);
  const byName = new Map(catalog.map((c) => [c.name, c]));
  const props = allProperties(catalog);
  const eff = await ports.systemd.serviceProperties(unit, props);

  const skip = (option: string, value: string, reason: string) => {
    ports.journal.append({ kind: 'skipped', option, value, reason });
    report.skipped.push({ option, value, reason, safety: byName.get(option)?.safety });
  };

  const version = await ports.systemd.version();
  const usable = new Set(usableOptions(catalog, version).map((c) => c.name));
  const cands: Candidate[] = [];
  for (const spec of catalog) {
    if (spec.explainOnly) {
      skip(spec.name, '', spec.explainOnly);
      continue;
    }
    if (!usable.has(spec.name)) {
      skip(spec.name, '', `needs systemd ${spec.minSystemd}+ (this is ${version})`);
      continue;
    }
    if (accepted.some((a) => a.option === spec.name)) continue; // accepted earlier, still in force
    if (userRolledBack.has(spec.name)) {
      skip(spec.name, '', 'rolled back by the user; not retried (tune it again after removing it from the journal)');
      continue;
    }
    // Lines are rendered against the effective value so that they only tighten what the vendor
    // and admin set (list settings merge across drop-ins).
    const stronger = strongerRungs(spec, eff);
    const rungs = stronger.flatMap((r) => {
      const lines = renderRung(spec, r, eff);
      return lines ? [{ ...r, lines }] : [];
    });
    if (rungs.length === 0) {
      skip(spec.name, spec.ladder[0]?.value ?? '', stronger.length === 0
        ? 'already in force (set by the vendor or admin)'
        : "cannot be written as a pure tightening of the vendor's value; left as it is");
      continue;
    }
    const decision = applySafetyPolicy(spec, rungs, observed.facts, o.declarations);
    if ('skip' in decision) {
      skip(spec.name, rungs[0]?.value ?? '', `${spec.safety}: ${decision.skip}`);
      continue;
    }
    cands.push({ spec, rungs: decision.rungs });
  }

  const planner: Planner = new OneAtATime(cands);
  let trialNo = lastTrialNumber(records);
  for (let settings = planner.next(); settings; settings = planner.next()) {
    if (o.signal?.aborted) throw new AutohardenError('Failed', 'interrupted');
    trialNo++;
    const verdict = await runTrial(ports, o, trialNo, settings, accepted, where, props, byName, report, watch);
    planner.report(verdict.ok);
    const outs = settings.map((s) => ({ option: s.option, value: s.value, reason: verdict.reason, safety: byName.get(s.option)?.safety }));
    if (verdict.ok) {
      accepted = [...accepted.filter((a) => !settings.some((s) => s.option === a.option)), ...settings];
      report.accepted.push(...outs);
    } else {
      report.rejected.push(...outs);
    }
  }

  if (o.persist && accepted.length) {
    const path = ports.dropins.writeAccepted(unit, accepted, 'etc');
    await ports.systemd.reload();
    if (path) {
      ports.journal.append({ kind: 'persisted', path });
      report.persistedTo = path;
    }
  }
  report.exposureAfter = await ports.exposure(unit);
  report.durationMs = Date.now() - t0;
  ports.journal.append({
    kind: 'tune-end', exposureBefore: report.exposureBefore, exposureAfter: report.exposureAfter,
    trials: report.trials, restarts: report.restarts, durationMs: report.durationMs,
  });
  return report;
}

async function runTrial(
  ports: Ports,
  o: TuneOptions,
  trial: number,
  settings: Setting[],
  accepted: Setting[],
  where: 'run' | 'etc',
  props: string[],
  byName: Map<string, OptionSpec>,
  report: TuneReport,
  watch: LogWatch,
): Promise<Verdict> {
  const { unit } = o;
  ports.progress({ type: 'trial', trial, settings });
  ports.journal.append({ kind: 'trial-begin', trial, settings });
  ports.dropins.writeTrial(unit, settings);
  ports.fault('after-dropin');
  await ports.systemd.reload();
  ports.fault('after-reload');

  let verdict: Verdict;
  const eff = await ports.systemd.serviceProperties(unit, props);
  const ignored = settings.filter((s) => !inForce(byName.get(s.option)!, s.value, eff));
  if (ignored.length) {
    verdict = {
      ok: false, kind: 'not-effective',
      reason: `systemd did not apply ${ignored.map((s) => `${s.option}=${s.value}`).join(', ')} (read back over D-Bus)`,
      evidence: [],
    };
  } else {
    try {
      verdict = await restartAndJudge(ports, unit, { settleMs: o.settleMs, probes: o.probes, signal: o.signal, faults: true, ...watch });
    } finally {
      report.trials++;
      report.restarts++;
    }
  }

  const outcome = verdict.ok ? 'accepted' : 'rejected';
  ports.journal.append({ kind: 'trial-end', trial, settings, outcome, verdict: verdict.kind, reason: verdict.reason, evidence: verdict.evidence });
  ports.progress({ type: 'verdict', trial, settings, outcome, reason: verdict.reason });
  if (verdict.ok) {
    // Same effective config, moved from the trial file into the accepted one: no restart needed.
    const next = [...accepted.filter((a) => !settings.some((s) => s.option === a.option)), ...settings];
    ports.dropins.writeAccepted(unit, next, where);
    ports.dropins.removeTrial(unit);
    await ports.systemd.reload();
    return verdict;
  }
  ports.dropins.removeTrial(unit);
  await ports.systemd.reload();
  if (verdict.kind !== 'not-effective') {
    report.restarts++;
    const back = await restartAndJudge(ports, unit, { settleMs: o.settleMs, probes: o.probes });
    // Whatever the unit logs in its own configuration is not the sandbox's doing.
    for (const s of errorSignatures(back.logs)) watch.knownErrors.add(s);
    if (!back.ok) {
      throw new AutohardenError('Failed', `${unit} did not come back after reverting ${settings.map((s) => s.option).join(', ')}: ${back.reason}`);
    }
  }
  return verdict;
}
