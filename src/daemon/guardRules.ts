// What the guard does about a failure of a unit it guards. Pure: the guard gathers the unit's
// state and logs; this decides which accepted options to roll back, if any.
//
// A failure points at the sandbox when its exit status is one systemd uses for a setting it
// could not apply (2xx), when the service was killed by SIGSYS, or when the unit logged an
// errno-like line it never logged before tuning (EROFS, EACCES, EPERM, EAFNOSUPPORT, …). The
// classifier maps that evidence to options (implicatedOptions). The guard rolls back the most
// recently accepted of the implicated options first, one per occurrence; when the same failure
// comes back and nothing accepted is implicated any more, the rest of the families of what it
// already rolled back; after that it gives up. A failure nothing points at (exit 1 after a
// configuration error) rolls nothing back.
import { implicatedOptions } from '../core/classify.js';
import { newErrorLines, normalise } from '../core/logcheck.js';
import type { OptionSpec, Setting, Verdict } from '../core/types.js';

export interface Failure {
  /** One line: "main process exit status 226/NAMESPACE; unit is failed/failed (Result=exit-code)". */
  reason: string;
  /** errno-like lines the unit never logged before tuning. */
  newErrors: string[];
}

export type GuardDecision =
  | { kind: 'rollback'; options: string[]; stage: 'implicated' | 'family'; why: string }
  | { kind: 'unrelated'; why: string }
  | { kind: 'give-up'; why: string };

/** A failure's identity across occurrences: its first new error line, else its exit. */
export function failureSignature(f: Failure): string {
  return f.newErrors.length ? normalise(f.newErrors[0]!) : normalise(f.reason.split(';')[0] ?? f.reason);
}

/** The failure a trial-like verdict describes, judged against the errors known before tuning. */
export function failureOf(verdict: Pick<Verdict, 'reason' | 'evidence'>, known: ReadonlySet<string>, logs: readonly string[] = verdict.evidence): Failure {
  return { reason: verdict.reason, newErrors: [...new Set(newErrorLines(known, logs))].slice(0, 20) };
}

export function decide(
  failure: Failure,
  accepted: readonly Setting[],
  catalog: readonly OptionSpec[],
  /** Options the guard already rolled back for this failure's signature. */
  history: readonly string[],
): GuardDecision {
  const byName = new Map(catalog.map((c) => [c.name, c]));
  const specs = accepted.map((s) => byName.get(s.option)).filter((c): c is OptionSpec => c !== undefined);
  const verdict: Verdict = { ok: false, kind: 'exit-status', reason: failure.reason, evidence: failure.newErrors };
  const implicated = new Set(implicatedOptions(verdict, specs));
  const newestFirst = [...accepted].reverse();
  const next = newestFirst.find((s) => implicated.has(s.option));
  const evidence = failure.newErrors[0] ? `${failure.reason}; ${failure.newErrors[0].slice(0, 200)}` : failure.reason;
  if (next) {
    const others = newestFirst.filter((s) => implicated.has(s.option) && s !== next).map((s) => s.option);
    return {
      kind: 'rollback',
      options: [next.option],
      stage: 'implicated',
      why: `${evidence} — points at ${next.option}${others.length ? ` (then ${others.join(', ')})` : ''}`,
    };
  }
  if (history.length === 0) {
    return { kind: 'unrelated', why: `${evidence} — nothing points at a hardening option; nothing rolled back` };
  }
  const families = new Set(history.map((o) => byName.get(o)?.family).filter((f) => f !== undefined));
  const rest = newestFirst.filter((s) => families.has(byName.get(s.option)?.family as OptionSpec['family'])).map((s) => s.option);
  if (rest.length) {
    return {
      kind: 'rollback',
      options: rest,
      stage: 'family',
      why: `${evidence} — recurs after rolling back ${history.join(', ')}; rolling back the rest of the ${[...families].join('/')} options`,
    };
  }
  return { kind: 'give-up', why: `${evidence} — recurs after rolling back ${history.join(', ')}; nothing more to roll back` };
}
