// Turns what the engine saw during one trial into a verdict with a reason a person can act on.
// Pure: the engine (or the guard) gathers snapshots, probe results and log lines; this decides a
// structured cause, and the verdict's kind and reason follow from it (core/cause.ts).
import { describeCause, endOf, kindOf, type Cause, type End, type UnitState } from './cause.js';
import { CLD_DUMPED, CLD_EXITED, CLD_KILLED } from './exitStatus.js';
import { newErrorLines } from './logcheck.js';
import type { OptionSpec, ProbeResult, UnitSnapshot, Verdict } from './types.js';

export interface TrialObservation {
  /** Result of the restart job (JobRemoved): done, failed, timeout, … */
  jobResult: string;
  /** The unit right after the restart job finished. */
  start: UnitSnapshot;
  /** Snapshots taken through the settle period, the last one at its end. */
  samples: UnitSnapshot[];
  probes: ProbeResult[];
  /** The unit's log lines since the trial began (systemd's own and the service's). */
  logs: string[];
  /** Lines the trial added to the log files the unit writes. */
  fileLogs?: string[];
  /** Signatures of errno-like lines the unit logged before tuning; unset: logs are not judged. */
  knownErrors?: ReadonlySet<string>;
}

/** A failure of a unit as systemd records it (Result=, ExecMainCode/Status, its state): what the
 * guard has when a unit it watches fails without autoharden restarting it. */
export type UnitFailure = Pick<UnitSnapshot, 'activeState' | 'subState' | 'result' | 'execMainCode' | 'execMainStatus'>;

/** A verdict the classifier made: it always carries its cause. */
export type ClassifiedVerdict = Verdict & { cause: Cause };

// systemd: "Main process exited, code=exited, status=226/NAMESPACE", "code=killed, status=31/SYS"
const STATUS_LINE = /(Main|Control) process exited, code=(exited|killed|dumped), status=(\d+)(?:\/(\w+))?/;

function endFromLogs(logs: readonly string[]): { process: 'main' | 'control'; end: End } | undefined {
  for (const line of logs) {
    const m = STATUS_LINE.exec(line);
    if (!m) continue;
    const end = endOf(m[2] === 'exited' ? CLD_EXITED : m[2] === 'killed' ? CLD_KILLED : CLD_DUMPED, Number(m[3]));
    if (end) return { process: m[1] === 'Main' ? 'main' : 'control', end };
  }
  return undefined;
}

/** A new invocation or restart since `start`: the unit did not stay up through the settle. */
function restarted(start: UnitSnapshot, s: UnitSnapshot): UnitState | undefined {
  if (s.invocationId !== start.invocationId) return { kind: 'restarted', what: 'invocation', from: start.invocationId, to: s.invocationId };
  if (s.nRestarts !== start.nRestarts) return { kind: 'restarted', what: 'NRestarts', from: String(start.nRestarts), to: String(s.nRestarts) };
  return undefined;
}

function unhealthy(s: UnitFailure): UnitState | undefined {
  if (s.activeState !== 'active') return { kind: 'state', active: s.activeState, sub: s.subState, result: s.result };
  if (s.result !== 'success') return { kind: 'result', result: s.result };
  return undefined;
}

/** A failure's cause: the process end that explains it — systemd's line in the logs first (it
 * also names a control process), else the unit's ExecMain — within the unit's state. */
function failureCause(state: UnitState, s: UnitFailure, logs: readonly string[]): Cause {
  const logged = endFromLogs(logs);
  if (logged) return { ...logged.end, process: logged.process, seen: 'log', state };
  const end = endOf(s.execMainCode, s.execMainStatus);
  if (end) return { ...end, process: 'main', seen: 'state', state };
  return { kind: 'unsettled', state };
}

const verdict = (cause: Cause, evidence: string[]): ClassifiedVerdict => ({
  ok: cause.kind === 'ok', kind: kindOf(cause), reason: describeCause(cause), evidence, cause,
});

export function classifyTrial(o: TrialObservation): ClassifiedVerdict {
  const evidence = [...o.logs, ...(o.fileLogs ?? [])].slice(-30);
  const bad = [o.start, ...o.samples].map((s) => ({ s, state: restarted(o.start, s) ?? unhealthy(s) })).find((x) => x.state);
  if (o.jobResult !== 'done' || bad) {
    const snap = bad?.s ?? o.samples.at(-1) ?? o.start;
    const state: UnitState = o.jobResult !== 'done' ? { kind: 'job', result: o.jobResult } : bad!.state!;
    return verdict(failureCause(state, snap, o.logs), evidence);
  }
  const failed = o.probes.find((p) => !p.ok);
  if (failed) return verdict({ kind: 'probe', probe: failed.probe, error: failed.detail }, evidence);
  if (o.knownErrors) {
    const journal = newErrorLines(o.knownErrors, o.logs);
    const fresh = [...journal, ...newErrorLines(o.knownErrors, o.fileLogs ?? [])];
    if (fresh.length) return verdict({ kind: 'log', line: fresh[0]!, source: journal.length ? 'journal' : 'file' }, fresh.slice(0, 20));
  }
  return verdict({ kind: 'ok', probes: o.probes.length }, []);
}

/** The guard's entry: a unit it watches failed on its own. `logs`: the unit's since that
 * invocation began. */
export function classifyFailure(f: UnitFailure, logs: readonly string[]): ClassifiedVerdict {
  const state: UnitState = unhealthy(f) ?? { kind: 'result', result: f.result };
  return verdict(failureCause(state, f, logs), logs.slice(-30));
}

const sigName = (s: string) => (s.startsWith('SIG') ? s : `SIG${s}`);

/** Options a failure points at: by its process's exit status or signal, or by the texts of its
 * log lines. Which options a cause names says nothing of whose word it is: the caller knows
 * whether the cause came from the service (it points) or from the trusted check (it proves). */
export function implicatedOptions(cause: Cause | undefined, evidence: readonly string[], candidates: readonly OptionSpec[]): string[] {
  const status = cause?.kind === 'exit' ? cause.status : undefined;
  const signal = cause?.kind === 'signal' ? sigName(cause.name ?? String(cause.signal)) : undefined;
  const text = [...(cause?.kind === 'log' ? [cause.line] : []), ...evidence].join('\n').toLowerCase();
  return candidates
    .filter((c) => {
      const failsWith = c.failsWith;
      return (
        (status !== undefined && c.exitStatuses.includes(status)) ||
        (signal !== undefined && failsWith !== undefined && sigName(failsWith.signal) === signal) ||
        c.logHints.some((h) => text.includes(h))
      );
    })
    .map((c) => c.name);
}
