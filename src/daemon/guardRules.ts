// What the guard may conclude from a failure of a unit it guards. Pure: the guard gathers the
// unit's state, logs and the sandbox check's outcome; this decides.
//
// Trust (README, "Security: whose word counts"): the unit's logs, exit statuses and signals are the service's own doing
// — a hostile service or client can forge every one of them — so they only describe a failure
// and point at options; they never relax a sandbox. What may relax one by default is trusted
// evidence that the sandbox cannot be set up: autoharden's check unit (/bin/true under the
// accepted settings) failing, which no code of the service takes part in. Relaxing on a failure
// that merely reproduces is the admin's opt-in (relax-on-reproduction), bounded here.
import { headline, type Cause } from '../core/cause.js';
import { implicatedOptions } from '../core/classify.js';
import { newErrorLines, noiseSignatures, normalise } from '../core/logcheck.js';
import type { JournalRecord } from '../core/journal.js';
import type { CheckOutcome } from '../core/sandboxCheck.js';
import type { OptionSpec, Setting } from '../core/types.js';

/** A failure of the service, or a line it logged: all of it the service's own doing (untrusted). */
export interface Failure {
  cause: Cause;
  /** One line for alerts (from the cause for a failure): "main process exit status 226/NAMESPACE; unit is failed/failed (Result=exit-code)". */
  reason: string;
  /** errno-like lines the unit never logged before tuning. */
  newErrors: string[];
}

/** A failure's identity across occurrences, for deduplicating alerts: the kinds of its first new
 * error line (not its text: a client varying the text must not flood the journal), else its exit. */
export function failureSignature(f: Failure): string {
  if (f.newErrors.length) return [...noiseSignatures([f.newErrors[0]!])].sort().join(' ') || normalise(f.newErrors[0]!);
  return normalise(headline(f.cause));
}

/** The failure a classified verdict describes, judged against the errors known before tuning. */
export function failureOf(verdict: { cause: Cause; reason: string; evidence: readonly string[] }, known: ReadonlySet<string>, logs: readonly string[] = verdict.evidence): Failure {
  return { cause: verdict.cause, reason: verdict.reason, newErrors: [...new Set(newErrorLines(known, logs))].slice(0, 20) };
}

function implicatedIn(cause: Cause, evidence: readonly string[], accepted: readonly Setting[], catalog: readonly OptionSpec[]): string[] {
  const byName = new Map(catalog.map((c) => [c.name, c]));
  const specs = accepted.map((s) => byName.get(s.option)).filter((c): c is OptionSpec => c !== undefined);
  const implicated = new Set(implicatedOptions(cause, evidence, specs));
  return [...accepted].reverse().filter((s) => implicated.has(s.option)).map((s) => s.option);
}

/** Accepted options the failure's (untrusted) evidence points at, most recently accepted first. */
export function pointedAt(failure: Failure, accepted: readonly Setting[], catalog: readonly OptionSpec[]): string[] {
  return implicatedIn(failure.cause, failure.newErrors, accepted, catalog);
}

/** How long after relaxing one setting of a unit on reproduction the guard relaxes no other. */
export const RELAX_INTERVAL_MS = 24 * 3600 * 1000;
export const RELAX_PREFIX = 'reproduced:';

export type RelaxDecision = { option: string } | { refuse: string };

/** Which setting relax-on-reproduction may test taking away, if any: the newest the evidence
 * points at that the admin did not pin (the floor), at most one per unit per RELAX_INTERVAL_MS. */
export function relaxCandidate(
  pointed: readonly string[],
  floor: readonly string[],
  records: readonly JournalRecord[],
  now: number,
): RelaxDecision {
  const last = records.filter((r) => r.kind === 'rollback' && r.by === 'guard' && r.reason.startsWith(RELAX_PREFIX)).at(-1);
  if (last && now - Date.parse(last.t) < RELAX_INTERVAL_MS) {
    return { refuse: `a setting was already relaxed on reproduction at ${last.t}; at most one a day` };
  }
  const option = pointed.find((o) => !floor.includes(o));
  if (!option) return { refuse: pointed.length ? `what it points at (${pointed.join(', ')}) is pinned by the floor` : 'it points at no accepted setting' };
  return { option };
}

/** A/B arms of a reproduction: A without the setting, B the accepted set. Mirrored (A B B A) so
 * drift cancels, and ending on A: the unit already runs the relaxed set if the verdict is to relax. */
export const REPRODUCTION_ARMS: ReadonlyArray<'A' | 'B'> = ['A', 'B', 'B', 'A'];

/** Relax only when every arm with the setting failed and every arm without it passed. */
export function reproduced(results: ReadonlyArray<{ arm: 'A' | 'B'; ok: boolean }>): boolean {
  return results.length > 0 && results.every((r) => (r.arm === 'A' ? r.ok : !r.ok));
}

/** Where the trusted check looks first for the setting that cannot be set up: those the check
 * unit's own end (exit status, signal) points at, most recently accepted first. Only a failed
 * check has suspects: nothing the service did or logged can make one. */
export function checkSuspects(check: CheckOutcome, accepted: readonly Setting[], catalog: readonly OptionSpec[]): string[] {
  return check.setUp ? [] : implicatedIn(check.cause, [], accepted, catalog);
}
