// Turns what the engine saw during one trial into a verdict with a reason a person can act on.
// Pure: the engine gathers snapshots, probe results and log lines; this decides.
import { CLD_DUMPED, CLD_EXITED, CLD_KILLED, EXIT_STATUS_NAMES, SIGNAL_NAMES } from './exitStatus.js';
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

// systemd: "Main process exited, code=exited, status=226/NAMESPACE", "code=killed, status=31/SYS"
const STATUS_LINE = /(Main|Control) process exited, code=(exited|killed|dumped), status=(\d+)(?:\/(\w+))?/;

export function describeExit(code: number, status: number): string | undefined {
  if (code === CLD_EXITED && status !== 0) {
    const name = EXIT_STATUS_NAMES[status];
    return name ? `exit status ${status}/${name}` : `exit status ${status}`;
  }
  if (code === CLD_KILLED || code === CLD_DUMPED) {
    const sig = SIGNAL_NAMES[status] ?? String(status);
    return `${code === CLD_DUMPED ? 'dumped core on' : 'killed by'} SIG${sig}${status === 31 ? ' (seccomp: a system call was filtered)' : ''}`;
  }
  return undefined;
}

function exitFromLogs(logs: string[]): { reason: string; line: string } | undefined {
  for (const line of logs) {
    const m = STATUS_LINE.exec(line);
    if (!m) continue;
    const code = m[2] === 'exited' ? CLD_EXITED : m[2] === 'killed' ? CLD_KILLED : CLD_DUMPED;
    const reason = describeExit(code, Number(m[3]));
    if (reason) return { reason: `${m[1]!.toLowerCase()} process ${reason}`, line };
  }
  return undefined;
}

function unhealthy(start: UnitSnapshot, s: UnitSnapshot): string | undefined {
  if (s.invocationId !== start.invocationId) return `restarted during settle (invocation ${start.invocationId.slice(0, 8)} → ${s.invocationId.slice(0, 8)})`;
  if (s.nRestarts !== start.nRestarts) return `restarted during settle (NRestarts ${start.nRestarts} → ${s.nRestarts})`;
  if (s.activeState !== 'active') return `unit is ${s.activeState}/${s.subState} (Result=${s.result})`;
  if (s.result !== 'success') return `Result=${s.result}`;
  return undefined;
}

export function classifyTrial(o: TrialObservation): Verdict {
  const evidence = [...o.logs, ...(o.fileLogs ?? [])].slice(-30);
  const bad = [o.start, ...o.samples].map((s) => ({ s, why: unhealthy(o.start, s) })).find((x) => x.why);
  if (o.jobResult !== 'done' || bad) {
    const snap = bad?.s ?? o.samples.at(-1) ?? o.start;
    const exit = describeExit(snap.execMainCode, snap.execMainStatus);
    const fromLogs = exitFromLogs(o.logs);
    const why = fromLogs?.reason ?? (exit ? `main process ${exit}` : undefined);
    const state = o.jobResult !== 'done' ? `restart job ${o.jobResult}` : bad!.why!;
    if (why) {
      const kind = /SIG|signal|killed|dumped/.test(why) ? 'signal' : 'exit-status';
      return { ok: false, kind, reason: `${why}; ${state}`, evidence };
    }
    const kind = /restarted/.test(state) ? 'restarted' : 'not-settled';
    return { ok: false, kind, reason: state, evidence };
  }
  const failed = o.probes.find((p) => !p.ok);
  if (failed) return { ok: false, kind: 'probe-failed', reason: `probe ${failed.probe} failed: ${failed.detail}`, evidence };
  if (o.knownErrors) {
    const fresh = newErrorLines(o.knownErrors, [...o.logs, ...(o.fileLogs ?? [])]);
    if (fresh.length) {
      return { ok: false, kind: 'log-error', reason: `new error in the unit's logs: ${fresh[0]!.slice(0, 300)}`, evidence: fresh.slice(0, 20) };
    }
  }
  return { ok: true, kind: 'ok', reason: `active, stable, ${o.probes.length} probe(s) passed`, evidence: [] };
}

/** Options a failure points at: by the exit status systemd reported or a text in the logs. */
export function implicatedOptions(verdict: Verdict, candidates: readonly OptionSpec[]): string[] {
  const status = /status (\d+)\//.exec(verdict.reason)?.[1];
  const sigsys = /SIGSYS/.test(verdict.reason);
  const text = [verdict.reason, ...verdict.evidence].join('\n').toLowerCase();
  return candidates
    .filter(
      (c) =>
        (status !== undefined && c.exitStatuses.includes(Number(status))) ||
        (sigsys && c.name === 'SystemCallFilter') ||
        c.logHints.some((h) => text.includes(h)),
    )
    .map((c) => c.name);
}
