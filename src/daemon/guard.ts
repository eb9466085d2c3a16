// After tuning, the guard watches each enrolled unit — systemd's PropertiesChanged for its state,
// journald (one `journalctl --follow`) for what it logs; nothing polls — and looks into it when
// the unit fails, keeps restarting, or logs an errno-like line it never logged before tuning.
//
// Whose word counts (README, "Security: whose word counts"; guardRules.ts): a failure rolls back a setting only when
// trusted evidence shows the sandbox can no longer be set up — autoharden's check unit running
// /bin/true under the accepted settings fails (or, on systemd ≥ 256, the invocation never reached
// the service's code and the check agrees). The check also finds which setting. Everything else
// the service or its clients could have produced (log lines, exit statuses, SIGSYS, a failure
// that reproduces) raises an alert — journaled, signalled, logged — and keeps the sandbox; only
// the admin's opt-in relax-on-reproduction tests taking one setting away, by A/B on autoharden's
// own probes and unit state, at most one a day, never below the floor.
import { basename } from 'node:path';
import { classifyFailure } from '../core/classify.js';
import { acceptedSet } from '../core/journal.js';
import { isErrnoLike, isKnown, isRequestLog, sourceOf } from '../core/logcheck.js';
import { reachedServiceCode, type CheckOutcome } from '../core/sandboxCheck.js';
import type { EffectiveValue, OptionSpec, Setting, UnitSnapshot } from '../core/types.js';
import type { Ports } from '../engine/ports.js';
import { lastProbes, rollback } from '../engine/rollback.js';
import { restartAndJudge } from '../engine/settle.js';
import {
  RELAX_PREFIX, REPRODUCTION_ARMS, checkSuspects, failureOf, failureSignature, pointedAt, relaxCandidate, reproduced, type Failure,
} from './guardRules.js';
import type { Enrollment } from './store.js';

export interface GuardHost {
  /** Runs `task` in the daemon's one-at-a-time queue (Reload is global). */
  schedule(unit: string, task: () => Promise<void>): void;
  ports(unit: string): Ports | undefined;
  /** The unit's enrollment while it is guarded. */
  enrollment(unit: string): Enrollment | undefined;
  save(e: Enrollment): void;
  progress(unit: string, message: string): void;
  markFailed(unit: string, why: string): void;
  snapshot(unit: string): Promise<UnitSnapshot>;
  watch(unit: string): Promise<void>;
  unwatch(unit: string): Promise<void>;
  /** Follow these units' logs in the journal (an empty list stops). */
  follow(units: string[]): void;
  /** Follow these log files of the unit (an empty list stops). */
  followFiles(unit: string, files: string[]): void;
  /** Signatures of the errno-like lines the unit logged before `until` (its tune began). */
  knownErrors(unit: string, until: Date): Promise<Set<string>>;
  logsSince(unit: string, since: Date): Promise<string[]>;
  /** Trusted: can the unit's sandbox with these settings be set up? (engine/sandboxCheck.ts) */
  checkSandbox(unit: string, settings: readonly Setting[]): Promise<CheckOutcome>;
  /** Journals an alert record, signals it and logs it loudly. */
  alert(unit: string, reason: string, evidence: string[]): void;
  /** The admin paused the guard of the unit (`guard pause`): it takes up nothing until lookAfresh. */
  paused?(unit: string): boolean;
  log: { info(m: string): void; warn(m: string): void; debug(m: string): void };
}

type Pending =
  | { kind: 'state'; snap: UnitSnapshot; since: number }
  | { kind: 'log'; line: string };

interface Tracked {
  live: UnitSnapshot;
  known: Set<string>;
  /** When the current invocation was first seen: its logs start there. */
  startedAt: number;
  /** NRestarts when it began: a start that did not count as a restart was someone's decision. */
  startRestarts: number;
  /** The last invocation whose failure was taken up (failed and auto-restart are one failure). */
  failedInvocation: string;
  pending?: Pending;
  queued: boolean;
  timer?: NodeJS.Timeout;
  /** > 0 while the daemon works on the unit itself (its own restarts are not failures). */
  busy: number;
  /** Log lines older than this are about restarts the daemon made. */
  quietUntil: number;
  /** When each failure signature last raised an alert: one alert per kind per ALERT_REPEAT_MS. */
  alerted: Map<string, number>;
  /** The last sandbox check, reused while the accepted set and the failure are the same. */
  lastCheck?: { key: string; at: number; outcome: CheckOutcome };
  /** The failed invocation last logged as left to the admin during a pause (said once). */
  pausedNoted?: string;
  /** While lookAfresh runs: a failure's logs start no later than the pause did. */
  logsFrom?: number;
}

/** How long a new error line waits for a failure of the unit that explains it better. */
const LOG_DEBOUNCE_MS = 1500;
/** A unit failing in a loop is checked again only this often: the check reloads systemd twice.
 * Short, so that a staged failure cannot hide a genuine one for long. */
const CHECK_REUSE_MS = 60_000;
const ALERT_REPEAT_MS = 3600_000;
/** More distinct alerts than this in ALERT_REPEAT_MS are summarised, not journaled one by one. */
const MAX_ALERTS_PER_HOUR = 20;
/** How often the trusted check may take one more setting away before it stops looking. */
const MAX_CULPRITS = 4;

const PROP: Record<string, keyof UnitSnapshot> = {
  ActiveState: 'activeState', SubState: 'subState', Result: 'result', InvocationID: 'invocationId',
  NRestarts: 'nRestarts', MainPID: 'mainPid', ExecMainCode: 'execMainCode', ExecMainStatus: 'execMainStatus', ControlPID: 'controlPid',
  ExecMainStartTimestampMonotonic: 'execMainStartMono', ExecMainHandoffTimestampMonotonic: 'execMainHandoffMono',
};

const failing = (s: UnitSnapshot) => (s.activeState === 'failed' || s.subState === 'auto-restart') && s.result !== 'success';

export class Guard {
  private readonly units = new Map<string, Tracked>();

  constructor(
    private readonly host: GuardHost,
    private readonly catalog: readonly OptionSpec[],
  ) {}

  guarded(): string[] {
    return [...this.units.keys()];
  }

  /** Start guarding `unit` (tuning is over). Its baseline of known errors is what it logged
   * before its tune began, in the journal and in the log files it writes (`baseline`, taken then). */
  async add(unit: string, tuneBegan: Date, baseline?: { knownErrors: string[]; logFiles: string[] }): Promise<void> {
    if (this.units.has(unit)) return;
    const live = await this.host.snapshot(unit);
    const known = await this.host.knownErrors(unit, tuneBegan);
    for (const k of baseline?.knownErrors ?? []) known.add(k);
    const t: Tracked = {
      live, known, startedAt: Date.now(), startRestarts: live.nRestarts,
      failedInvocation: '', queued: false, busy: 0, quietUntil: Date.now(), alerted: new Map(),
    };
    this.units.set(unit, t);
    await this.host.watch(unit);
    this.host.follow(this.guarded());
    // Access logs grow with every request and never say EROFS: following them costs a wake-up per request.
    this.host.followFiles(unit, (baseline?.logFiles ?? []).filter((f) => !isRequestLog(basename(f))));
    // A unit that failed while the daemon was away is taken up now.
    await this.resyncUnit(unit);
  }

  async remove(unit: string): Promise<void> {
    const t = this.units.get(unit);
    if (!t) return;
    clearTimeout(t.timer);
    this.units.delete(unit);
    this.host.follow(this.guarded());
    this.host.followFiles(unit, []);
    await this.host.unwatch(unit).catch(() => undefined);
  }

  stop(): void {
    for (const [unit, t] of this.units) {
      clearTimeout(t.timer);
      this.host.followFiles(unit, []);
    }
    this.units.clear();
    this.host.follow([]);
  }

  /** The daemon is about to restart the unit itself (a user's rollback, unenroll). */
  suspend(unit: string): void {
    const t = this.units.get(unit);
    if (t) t.busy++;
  }

  /** ... and is done: what happened meanwhile was its own doing. */
  async resume(unit: string): Promise<void> {
    const t = this.units.get(unit);
    if (!t) return;
    t.busy = Math.max(0, t.busy - 1);
    if (t.busy > 0) return;
    t.quietUntil = Date.now();
    try {
      t.live = await this.host.snapshot(unit);
      t.startedAt = Date.now();
      t.startRestarts = t.live.nRestarts;
      if (failing(t.live)) t.failedInvocation = t.live.invocationId;
    } catch (e) {
      this.host.log.warn(`guard: cannot read ${unit}: ${(e as Error).message}`);
    }
  }

  /** The admin's pause ended (`guard resume`, or its time was up): whatever the unit's state is
   * now is taken up as if first seen — a unit the admin's work left failed is judged then, by the
   * same trusted check as any failure (its logs since `since`, the pause's start, describe it).
   * Alerts seen before the pause do not mute this one. */
  async lookAfresh(unit: string, since: number): Promise<void> {
    const t = this.units.get(unit);
    if (!t) return;
    clearTimeout(t.timer);
    t.pending = undefined;
    t.failedInvocation = '';
    t.pausedNoted = undefined;
    t.alerted.clear();
    t.lastCheck = undefined;
    // errno lines logged during the maintenance were the admin's to read: not new evidence now
    t.quietUntil = Date.now();
    t.logsFrom = since;
    try {
      await this.resyncUnit(unit);
    } finally {
      t.logsFrom = undefined;
    }
  }

  /** PropertiesChanged (or UnitNew, iface '') of a guarded unit. */
  unitChanged(unit: string, iface: string, changed: Record<string, EffectiveValue>): void {
    const t = this.units.get(unit);
    if (!t) return;
    if (iface === '') {
      void this.resyncUnit(unit);
      return;
    }
    const before = t.live.invocationId;
    for (const [k, v] of Object.entries(changed)) {
      const key = PROP[k];
      if (key && (typeof v === 'string' || typeof v === 'number')) (t.live as unknown as Record<string, unknown>)[key] = v;
    }
    if (t.live.invocationId !== before) this.started(t);
    if (iface === 'org.freedesktop.systemd1.Unit') this.checkState(unit, t);
  }

  /** systemd re-executed or the bus came back: signals may have been lost; read every unit. */
  async resync(): Promise<void> {
    for (const unit of this.guarded()) await this.resyncUnit(unit);
  }

  /** A line the unit logged (from the journal follower). */
  logLine(unit: string, time: number, message: string): void {
    const t = this.units.get(unit);
    if (!t || t.busy > 0 || time < t.quietUntil || !isErrnoLike(message) || this.host.paused?.(unit) === true) return;
    if (isKnown(t.known, message)) return;
    if (t.pending) return; // a failure (or an earlier line) is already being taken up
    t.pending = { kind: 'log', line: message };
    clearTimeout(t.timer);
    t.timer = setTimeout(() => this.enqueue(unit, t), LOG_DEBOUNCE_MS);
    t.timer.unref();
  }

  private async resyncUnit(unit: string): Promise<void> {
    const t = this.units.get(unit);
    if (!t || t.busy > 0) return;
    try {
      const s = await this.host.snapshot(unit);
      const fresh = s.invocationId !== t.live.invocationId;
      t.live = s;
      if (fresh) this.started(t);
      this.checkState(unit, t);
    } catch (e) {
      this.host.log.warn(`guard: cannot read ${unit}: ${(e as Error).message}`);
    }
  }

  /** A new invocation: its logs start now. */
  private started(t: Tracked): void {
    t.startedAt = Date.now();
    t.startRestarts = t.live.nRestarts;
  }

  private checkState(unit: string, t: Tracked): void {
    if (t.busy > 0 || !failing(t.live) || t.live.invocationId === t.failedInvocation) return;
    if (this.host.paused?.(unit) === true) {
      // not marked as taken up: lookAfresh judges it when the pause ends
      if (t.pausedNoted !== t.live.invocationId) this.host.log.info(`guard: ${unit} failed during the admin's pause: left to the admin until the pause ends`);
      t.pausedNoted = t.live.invocationId;
      return;
    }
    t.failedInvocation = t.live.invocationId;
    t.pending = { kind: 'state', snap: { ...t.live }, since: Math.min(t.startedAt, t.logsFrom ?? Infinity) };
    clearTimeout(t.timer);
    this.enqueue(unit, t);
  }

  private enqueue(unit: string, t: Tracked): void {
    if (t.queued) return;
    t.queued = true;
    this.host.schedule(unit, async () => {
      t.queued = false;
      const ev = t.pending;
      t.pending = undefined;
      if (!ev || this.units.get(unit) !== t || this.host.paused?.(unit) === true) return;
      t.busy++;
      try {
        await this.handle(unit, t, ev);
      } catch (e) {
        this.host.log.warn(`guard: handling a failure of ${unit} failed: ${(e as Error).message}`);
        this.host.progress(unit, `guard could not act: ${(e as Error).message}`);
      } finally {
        await this.resume(unit);
      }
    });
  }

  private async handle(unit: string, t: Tracked, ev: Pending): Promise<void> {
    const ports = this.host.ports(unit);
    const e = this.host.enrollment(unit);
    if (!ports || !e || e.state !== 'guarding') return;
    const accepted = acceptedSet(ports.journal.read());
    if (ev.kind === 'log') {
      const cause = { kind: 'log', line: ev.line, source: sourceOf(ev.line) === 'journal' ? 'journal' : 'file' } as const;
      const failure: Failure = { cause, reason: "a new errno-like line in the unit's logs", newErrors: [ev.line] };
      const points = pointedAt(failure, accepted, this.catalog);
      this.alert(unit, t, failure, `${failure.reason}${points.length ? ` (it points at ${points.join(', ')})` : ''}; the unit is healthy and its logs are its own text: nothing relaxed`);
      return;
    }
    const logs = await this.host.logsSince(unit, new Date(ev.since - 1000));
    const failure = failureOf(classifyFailure(ev.snap, logs), t.known, logs);
    this.host.log.info(`guard: ${unit} failed: ${failure.reason}`);
    // the handoff timestamps as systemd has them now, if it is still the failed invocation
    const now = await this.host.snapshot(unit).catch(() => undefined);
    const snap = now && now.invocationId === ev.snap.invocationId ? { ...ev.snap, execMainStartMono: now.execMainStartMono, execMainHandoffMono: now.execMainHandoffMono } : ev.snap;
    const outcome = await this.trustedCheck(unit, t, snap, accepted, failure);
    if (!outcome.setUp) {
      await this.rollBackUnsettable(unit, ports, e, accepted, outcome);
      return;
    }
    const points = pointedAt(failure, accepted, this.catalog);
    this.alert(
      unit, t, failure,
      `${unit} failed: ${failure.reason}${points.length ? `; its evidence points at ${points.join(', ')}` : ''} — but ${outcome.reason}: evidence the service could have produced relaxes nothing`,
    );
    if (e.spec.guard === 'relax-on-reproduction') await this.reproduce(unit, ports, e, accepted, points, failure);
  }

  /** Trusted word on whether the sandbox still sets up. On systemd ≥ 256 an invocation that
   * reached the service's code had its sandbox set up; otherwise the check unit answers. */
  private async trustedCheck(unit: string, t: Tracked, snap: UnitSnapshot, accepted: Setting[], failure: Failure): Promise<CheckOutcome> {
    if (reachedServiceCode(snap) === true) {
      return { setUp: true, reason: "the service's own code ran (ExecMainHandoffTimestamp is set), so its sandbox was set up" };
    }
    if (accepted.length === 0) return { setUp: true, reason: 'autoharden has no accepted setting in force' };
    const key = `${accepted.map((s) => `${s.option}=${s.value}`).join(' ')}|${failureSignature(failure)}`;
    if (t.lastCheck && t.lastCheck.key === key && Date.now() - t.lastCheck.at < CHECK_REUSE_MS) return t.lastCheck.outcome;
    const outcome = await this.host.checkSandbox(unit, accepted);
    t.lastCheck = { key, at: Date.now(), outcome };
    return outcome;
  }

  /** The check failed: find which settings cannot be set up — first what its exit status points
   * at, else the shortest failing prefix of the acceptance order (bisection; each step one start
   * of /bin/true, no restart of the service) — and roll them back. */
  private async rollBackUnsettable(unit: string, ports: Ports, e: Enrollment, accepted: Setting[], first: CheckOutcome): Promise<void> {
    let rest = [...accepted];
    let outcome = first;
    const culprits: string[] = [];
    while (!outcome.setUp && rest.length && culprits.length < MAX_CULPRITS) {
      const suspect = checkSuspects(outcome, rest, this.catalog)[0];
      let culprit: Setting | undefined;
      if (suspect) {
        const without = rest.filter((s) => s.option !== suspect);
        const o = await this.host.checkSandbox(unit, without);
        if (o.setUp) culprit = rest.find((s) => s.option === suspect);
      }
      if (!culprit) {
        let good = 0;
        let bad = rest.length;
        while (bad - good > 1) {
          const mid = (good + bad) >> 1;
          if ((await this.host.checkSandbox(unit, rest.slice(0, mid))).setUp) good = mid;
          else bad = mid;
        }
        culprit = rest[bad - 1]!;
      }
      culprits.push(culprit.option);
      rest = rest.filter((s) => s !== culprit);
      outcome = await this.host.checkSandbox(unit, rest);
    }
    if (!outcome.setUp) {
      this.host.alert(unit, `the sandbox of ${unit} cannot be set up even without ${culprits.join(', ') || 'any of its settings'}: ${outcome.reason}`, []);
      return;
    }
    const why = `${first.reason} — proven by autoharden's check unit, which runs /bin/true, not the service`;
    this.host.progress(unit, `guard: rolling back ${culprits.join(', ')}: ${why}`);
    ports.fault('guard');
    const r = await rollback(ports, unit, { options: culprits }, { settleMs: e.spec.settleMs, by: 'guard', reason: why });
    this.host.progress(unit, `guard: rolled back ${r.removed.join(', ')}; ${r.verdict.ok ? 'healthy' : 'still failing'}: ${r.verdict.reason}`);
    if (!r.verdict.ok) this.host.alert(unit, `${unit} still fails after rolling back ${r.removed.join(', ')}: ${r.verdict.reason}`, []);
  }

  /** The admin's opt-in: does the failure reproduce with the setting and vanish without it?
   * Judged only by autoharden's probes and the unit's state (never its logs), arms interleaved. */
  private async reproduce(unit: string, ports: Ports, e: Enrollment, accepted: Setting[], points: string[], failure: Failure): Promise<void> {
    const pick = relaxCandidate(points, e.spec.guardFloor, ports.journal.read(), Date.now());
    if ('refuse' in pick) {
      this.host.alert(unit, `relax-on-reproduction: not testing ${unit}: ${pick.refuse}`, []);
      return;
    }
    const without = accepted.filter((s) => s.option !== pick.option);
    const probes = lastProbes(ports);
    const results: Array<{ arm: 'A' | 'B'; ok: boolean }> = [];
    for (const arm of REPRODUCTION_ARMS) {
      ports.dropins.writeAccepted(unit, arm === 'A' ? without : accepted, ports.dropins.acceptedWhere(unit) ?? 'etc');
      await ports.systemd.reload();
      const v = await restartAndJudge(ports, unit, { settleMs: e.spec.settleMs, probes });
      results.push({ arm, ok: v.ok });
    }
    const arms = results.map((r) => `${r.arm}:${r.ok ? 'ok' : 'failed'}`).join(' ');
    if (reproduced(results)) {
      // the unit runs arm A (the last): journal the rollback that is already in force
      const running = await this.host.snapshot(unit).catch(() => undefined);
      ports.journal.append({
        kind: 'rollback', by: 'guard', options: [pick.option], ...(running ? { invocation: running.invocationId } : {}),
        reason: `${RELAX_PREFIX} ${failure.reason}; with ${pick.option} it failed every time and without it passed every time (${arms}); relax-on-reproduction is on`,
      });
      this.host.progress(unit, `guard: relaxed ${pick.option} on reproduction (${arms})`);
      return;
    }
    ports.dropins.writeAccepted(unit, accepted, ports.dropins.acceptedWhere(unit) ?? 'etc');
    await ports.systemd.reload();
    await restartAndJudge(ports, unit, { settleMs: e.spec.settleMs, probes });
    this.host.alert(unit, `relax-on-reproduction: ${pick.option} kept: the failure did not follow it (${arms})`, []);
  }

  /** One alert per kind of failure per hour, and a bounded number of kinds: a hostile client must
   * not be able to flood the journal or the admin. */
  private alert(unit: string, t: Tracked, failure: Failure, reason: string): void {
    const now = Date.now();
    for (const [k, at] of t.alerted) if (now - at >= ALERT_REPEAT_MS) t.alerted.delete(k);
    const sig = failureSignature(failure);
    if (t.alerted.has(sig)) {
      this.host.log.debug(`guard: ${unit}: ${reason} (alerted already)`);
      return;
    }
    if (t.alerted.size === MAX_ALERTS_PER_HOUR) {
      t.alerted.set(sig, now);
      this.host.alert(unit, `more than ${MAX_ALERTS_PER_HOUR} kinds of alert within an hour; further ones are only in the daemon's log`, []);
      return;
    }
    if (t.alerted.size > MAX_ALERTS_PER_HOUR) {
      this.host.log.warn(`guard: ${unit}: ${reason}`);
      return;
    }
    t.alerted.set(sig, now);
    this.host.alert(unit, reason, failure.newErrors.slice(0, 5));
  }
}
