// After tuning, the guard watches each enrolled unit — systemd's PropertiesChanged for its state,
// journald (one `journalctl --follow`) for what it logs; nothing polls — and acts when it fails,
// keeps restarting, or logs an errno-like line it never logged before tuning. What to roll back is
// guardRules' decision; this gathers the evidence, asks the daemon to run the rollback in its
// one-at-a-time queue, and journals every step as a rollback by 'guard'.
import { basename } from 'node:path';
import { classifyTrial } from '../core/classify.js';
import { acceptedSet } from '../core/journal.js';
import { isErrnoLike, normalise } from '../core/logcheck.js';
import type { EffectiveValue, OptionSpec, UnitSnapshot } from '../core/types.js';
import type { Ports } from '../engine/ports.js';
import { rollback } from '../engine/rollback.js';
import { decide, failureOf, failureSignature, type Failure } from './guardRules.js';
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
  /** Log-line signatures that implicated nothing: not taken up again. */
  ignored: Set<string>;
  lastUnrelated?: string;
}

/** How long a new error line waits for a failure of the unit that explains it better. */
const LOG_DEBOUNCE_MS = 1500;
const MAX_STEPS = 12;

const PROP: Record<string, keyof UnitSnapshot> = {
  ActiveState: 'activeState', SubState: 'subState', Result: 'result', InvocationID: 'invocationId',
  NRestarts: 'nRestarts', MainPID: 'mainPid', ExecMainCode: 'execMainCode', ExecMainStatus: 'execMainStatus', ControlPID: 'controlPid',
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
      failedInvocation: '', queued: false, busy: 0, quietUntil: Date.now(), ignored: new Set(),
    };
    this.units.set(unit, t);
    await this.host.watch(unit);
    this.host.follow(this.guarded());
    // Access logs grow with every request and never say EROFS: following them costs a wake-up per request.
    this.host.followFiles(unit, (baseline?.logFiles ?? []).filter((f) => !/access/i.test(basename(f))));
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
    if (!t || t.busy > 0 || time < t.quietUntil || !isErrnoLike(message)) return;
    const sig = normalise(message);
    if (t.known.has(sig) || t.ignored.has(sig)) return;
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

  /** A new invocation. Restart= counts its restarts; one it did not count was an admin's start:
   * a failure unrelated to hardening is journaled again after that, not at every automatic retry. */
  private started(t: Tracked): void {
    t.startedAt = Date.now();
    if (t.live.nRestarts <= t.startRestarts) t.lastUnrelated = undefined;
    t.startRestarts = t.live.nRestarts;
  }

  private checkState(unit: string, t: Tracked): void {
    if (t.busy > 0 || !failing(t.live) || t.live.invocationId === t.failedInvocation) return;
    t.failedInvocation = t.live.invocationId;
    t.pending = { kind: 'state', snap: { ...t.live }, since: t.startedAt };
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
      if (!ev || this.units.get(unit) !== t) return;
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
    if (!ports) return;
    let failure: Failure;
    if (ev.kind === 'state') {
      const logs = await this.host.logsSince(unit, new Date(ev.since - 1000));
      const start = { ...ev.snap, activeState: 'active', subState: 'running', result: 'success' };
      const v = classifyTrial({ jobResult: 'done', start, samples: [ev.snap], probes: [], logs });
      failure = failureOf(v, t.known, logs);
      this.host.log.info(`guard: ${unit} failed: ${failure.reason}`);
    } else {
      failure = { reason: "a new errno-like line in the unit's logs", newErrors: [ev.line] };
    }
    for (let step = 0; step < MAX_STEPS; step++) {
      const e = this.host.enrollment(unit);
      if (!e || e.state !== 'guarding') return;
      const sig = failureSignature(failure);
      const history = e.guardHistory[sig] ?? [];
      const d = decide(failure, acceptedSet(ports.journal.read()), this.catalog, history);
      if (d.kind === 'unrelated') {
        if (ev.kind === 'log' && step === 0) {
          // A line alone, the unit healthy, nothing implicated: not a failure; not taken up again.
          t.ignored.add(sig);
          this.host.log.debug(`guard: ${unit}: ${d.why}`);
          return;
        }
        if (t.lastUnrelated !== sig) {
          ports.journal.append({ kind: 'rollback', by: 'guard', options: [], reason: `${unit} failed: ${d.why}` });
          this.host.progress(unit, `guard: ${unit} failed, not because of its hardening: ${failure.reason}`);
        }
        t.lastUnrelated = sig;
        return;
      }
      if (d.kind === 'give-up') {
        ports.journal.append({ kind: 'rollback', by: 'guard', options: [], reason: `giving up: ${d.why}` });
        this.host.markFailed(unit, `guard gave up: ${d.why}`);
        return;
      }
      this.host.progress(unit, `guard: rolling back ${d.options.join(', ')}: ${d.why}`);
      const r = await rollback(ports, unit, { options: d.options }, { settleMs: e.spec.settleMs, by: 'guard', reason: d.why });
      e.guardHistory[sig] = [...history, ...r.removed];
      this.host.save(e);
      this.host.progress(unit, `guard: rolled back ${r.removed.join(', ')}; ${r.verdict.ok ? 'healthy' : 'still failing'}: ${r.verdict.reason}`);
      if (r.verdict.ok) return;
      failure = failureOf(r.verdict, t.known);
    }
  }
}
