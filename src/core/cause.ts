// What a verdict rests on, as data. The classifier decides the cause; the verdict's kind and its
// reason text are derived from it, and the options a failure points at are read from it — never
// from prose. The schema lets journal records carry it (additively: old records have none).
import { z } from 'zod';
import { CLD_DUMPED, CLD_EXITED, CLD_KILLED, EXIT_STATUS_NAMES, SIGNAL_NAMES } from './exitStatus.js';
import type { VerdictKind } from './types.js';

/** How the unit stood when it was judged: systemd's word (job results, unit state over D-Bus). */
export const unitStateSchema = z.discriminatedUnion('kind', [
  /** The restart job did not finish with "done" (failed, timeout, …). */
  z.object({ kind: z.literal('job'), result: z.string() }),
  /** A new invocation, or NRestarts moved, within the settle period. */
  z.object({ kind: z.literal('restarted'), what: z.enum(['invocation', 'NRestarts']), from: z.string(), to: z.string() }),
  z.object({ kind: z.literal('state'), active: z.string(), sub: z.string(), result: z.string() }),
  /** Active, but Result= is not success. */
  z.object({ kind: z.literal('result'), result: z.string() }),
]);
export type UnitState = z.infer<typeof unitStateSchema>;

/** A process's end. `seen`: read from the unit's state over D-Bus, or from systemd's "… process
 * exited" line in the logs (which the service can forge). Either way the status or signal may be
 * the service's own choice: it only points at options, never proves. */
const end = {
  process: z.enum(['main', 'control']),
  seen: z.enum(['state', 'log']),
  state: unitStateSchema,
};

export const causeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ok'), probes: z.number() }),
  /** code=exited with a non-zero status; `name` when it is one of systemd's own (226/NAMESPACE). */
  z.object({ kind: z.literal('exit'), ...end, status: z.number(), name: z.string().optional() }),
  /** code=killed or code=dumped. */
  z.object({ kind: z.literal('signal'), ...end, signal: z.number(), name: z.string().optional(), dumped: z.boolean() }),
  /** Unhealthy without a process end to name. */
  z.object({ kind: z.literal('unsettled'), state: unitStateSchema }),
  z.object({ kind: z.literal('probe'), probe: z.string(), error: z.string() }),
  /** A new errno-like line; `source` says whether the journal or a log file the unit writes. */
  z.object({ kind: z.literal('log'), line: z.string(), source: z.enum(['journal', 'file']) }),
]);
export type Cause = z.infer<typeof causeSchema>;
export type ProcessEnd = Extract<Cause, { kind: 'exit' | 'signal' }>;
/** A process's end alone, without where it was seen. */
export type End = { kind: 'exit'; status: number; name?: string } | { kind: 'signal'; signal: number; name?: string; dumped: boolean };

/** The end systemd records as ExecMainCode/ExecMainStatus; undefined: still running or exit 0. */
export function endOf(code: number, status: number): End | undefined {
  if (code === CLD_EXITED && status !== 0) {
    const name = EXIT_STATUS_NAMES[status];
    return name ? { kind: 'exit', status, name } : { kind: 'exit', status };
  }
  if (code === CLD_KILLED || code === CLD_DUMPED) {
    const name = SIGNAL_NAMES[status];
    return { kind: 'signal', signal: status, ...(name ? { name } : {}), dumped: code === CLD_DUMPED };
  }
  return undefined;
}

/** "exit status 226/NAMESPACE", "killed by SIGSYS (seccomp: a system call was filtered)". */
export function describeEnd(e: End): string {
  if (e.kind === 'exit') return e.name ? `exit status ${e.status}/${e.name}` : `exit status ${e.status}`;
  return `${e.dumped ? 'dumped core on' : 'killed by'} SIG${e.name ?? e.signal}${e.signal === 31 ? ' (seccomp: a system call was filtered)' : ''}`;
}

export function describeState(s: UnitState): string {
  switch (s.kind) {
    case 'job':
      return `restart job ${s.result}`;
    case 'restarted':
      return s.what === 'invocation'
        ? `restarted during settle (invocation ${s.from.slice(0, 8)} → ${s.to.slice(0, 8)})`
        : `restarted during settle (NRestarts ${s.from} → ${s.to})`;
    case 'state':
      return `unit is ${s.active}/${s.sub} (Result=${s.result})`;
    case 'result':
      return `Result=${s.result}`;
  }
}

/** The first part of the reason: what happened, without the unit's state around it. */
export function headline(c: Cause): string {
  if (c.kind === 'exit' || c.kind === 'signal') return `${c.process} process ${describeEnd(c)}`;
  return describeCause(c);
}

/** The reason a person reads, derived from the cause alone. */
export function describeCause(c: Cause): string {
  switch (c.kind) {
    case 'ok':
      return `active, stable, ${c.probes} probe(s) passed`;
    case 'exit':
    case 'signal':
      return `${headline(c)}; ${describeState(c.state)}`;
    case 'unsettled':
      return describeState(c.state);
    case 'probe':
      return `probe ${c.probe} failed: ${c.error}`;
    case 'log':
      return `new error in the unit's logs: ${c.line.slice(0, 300)}`;
  }
}

export function kindOf(c: Cause): VerdictKind {
  switch (c.kind) {
    case 'ok':
      return 'ok';
    case 'exit':
      return 'exit-status';
    case 'signal':
      return 'signal';
    case 'unsettled':
      return c.state.kind === 'restarted' ? 'restarted' : 'not-settled';
    case 'probe':
      return 'probe-failed';
    case 'log':
      return 'log-error';
  }
}
