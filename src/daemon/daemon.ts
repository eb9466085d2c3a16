// The long-running daemon: a queue of enrolled units tuned one trial at a time (Reload is
// global), round-robin across units so that none waits for another to finish; then guarded.
// Everything it owes a unit is on disk (enrollments + the unit's journal) before it acts, so a
// daemon killed at any point resumes where it was: the unfinished trial is reverted and journaled
// by TuneSession's recovery, and tuning continues.
//
// It does nothing until start(); its collaborators come in through the constructor (compose/daemon.ts
// wires the real ones). Its API methods take their D-Bus arguments and validate them through the
// use cases' request schemas (app/), the same the CLI validates with.
import { ENROLL } from '../app/enroll.js';
import { EXPORT, exportText, exportWithLive } from '../app/export.js';
import { GUARD_PAUSE, decidePause, type PauseResult } from '../app/guardPause.js';
import { JOURNAL } from '../app/journal.js';
import type { Served } from '../app/registry.js';
import { ROLLBACK, rollbackWhat } from '../app/rollback.js';
import { STATUS } from '../app/status.js';
import { UNENROLL, type UnenrollResult } from '../app/unenroll.js';
import { parseWire } from '../app/useCase.js';
import { AutohardenError, ERR } from '../core/errors.js';
import { flattened } from '../core/text.js';
import { acceptedSet, type JournalRecord } from '../core/journal.js';
import { expiredPause, openPause, pausedUntil } from '../core/pause.js';
import { platformFingerprint } from '../core/platform.js';
import { upgradeDecision, type Fingerprint } from '../core/upgrade.js';
import { errorSignatures } from '../core/logcheck.js';
import type { CheckOutcome } from '../core/sandboxCheck.js';
import type { OptionSpec, Setting } from '../core/types.js';
import { refuseProtectedUnit } from '../core/protectedUnits.js';
import type { Ports, ProgressEvent, SystemdPort } from '../engine/ports.js';
import { keepAccepted } from '../engine/keep.js';
import { recoverUnit } from '../engine/recover.js';
import { reverify } from '../engine/reverify.js';
import { rollback, type RollbackResult } from '../engine/rollback.js';
import { TuneSession, type TuneOptions, type TuneReport } from '../engine/tune.js';
import { Guard } from './guard.js';
import { Serial, Wake } from './serial.js';
import { DEFAULT_SETTLE_MS, parseEnrollSpec, specDeclarations, specLimits, specProbes, specWorkload, type EnrollSpec } from './spec.js';
import { settingsText, statusRow, type CurrentTrial, type StatusRow } from './status.js';
import { EnrollmentStore, newEnrollment, type Enrollment, type EnrollmentState } from './store.js';
import type { EffectiveValue } from '../core/types.js';

export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(msg: string): void;
}

/** systemd as the daemon needs it: the engine's port, plus watching units for the guard. */
export interface DaemonSystemd extends SystemdPort {
  watchUnit(unit: string): Promise<void>;
  unwatchUnit(unit: string): Promise<void>;
}

export interface Signals {
  progress(unit: string, state: string, message: string): void;
  trialFinished(unit: string, trial: number, outcome: string, settings: string, reason: string): void;
  alert(unit: string, message: string): void;
}

/** What the queue needs of a tune: TuneSession, or a stand-in in tests. */
export interface Session {
  readonly report: { exposureBefore: number };
  begin(): Promise<void>;
  step(): Promise<boolean>;
  finish(): Promise<TuneReport>;
}

export interface DaemonDeps {
  /** Default: a TuneSession. */
  newSession?: (ports: Ports, o: TuneOptions, catalog: readonly OptionSpec[]) => Session;
  stateDir: string;
  systemd: DaemonSystemd;
  catalog: readonly OptionSpec[];
  store: EnrollmentStore;
  /** Engine ports for one unit; `progress` receives its trials and verdicts. */
  portsFor(unit: string, progress: (e: ProgressEvent) => void): Ports;
  /** Journal of a unit that need not be enrolled (read-only use). */
  journal(unit: string): { exists(): boolean; read(): JournalRecord[] };
  /** Takes the unit's lock, keyed by its canonical Id when known (aliases share it; throws
   * AutohardenError Locked); returns its release. */
  lock(unit: string, id?: string): () => void;
  /** Units with a journal in the state directory. */
  journaledUnits(): string[];
  follow(units: string[]): void;
  followFiles(unit: string, files: string[]): void;
  knownErrors(unit: string, until: Date): Promise<Set<string>>;
  logsSince(unit: string, since: Date): Promise<string[]>;
  /** Trusted: can the unit's sandbox with these settings be set up? (engine/sandboxCheck.ts) */
  checkSandbox(unit: string, settings: readonly Setting[]): Promise<CheckOutcome>;
  exposure(unit: string): Promise<number>;
  signals: Signals;
  log: Log;
}

interface Active {
  e: Enrollment;
  ports: Ports;
  session?: Session;
  /** Aborts the session at its next safe point when the daemon stops. */
  abort?: AbortController;
  current: CurrentTrial | null;
  release?: () => void;
  lockRetryAt?: number;
  transientErrors: number;
  /** systemd or the kernel changed since its accepted set was verified: one re-verification is
   * owed (`deferred` while the unit does not run: the next start or re-exec looks again). */
  reverify?: { from: Fingerprint; to: Fingerprint; changes: string[]; deferred?: boolean };
  /** The admin's pause (`guard pause`, journaled): no guard action, no tune begun, no
   * re-verification until `until`, when the timer journals its end. */
  pause?: { until: number; since: number; timer: NodeJS.Timeout };
}

const MAX_TRANSIENT_ERRORS = 3;
const LOCK_RETRY_MS = 5000;

const oneLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 500);

/** Errors that say the bus or systemd was briefly away, not that the unit is bad. */
function transient(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return (e as Error)?.name === 'SystemdError' && (code === 'Bus' || code === 'Timeout');
}

/** What status says is owed to a unit after an upgrade. */
function pendingOf(a: Active | undefined): string[] | undefined {
  if (!a?.reverify) return undefined;
  return a.reverify.deferred ? [...a.reverify.changes, 'deferred while the unit does not run'] : a.reverify.changes;
}

/** The limits of one run (--max-restarts, --max-time): a retune brings its own, not the first run's. */
const PER_RUN = new Set(['maxRestarts', 'maxTimeMs']);

/** The enrolled spec with the limits this run asked for (none asked: none). */
function withRunLimits(spec: EnrollSpec, asked: EnrollSpec): EnrollSpec {
  const out: Record<string, unknown> = { ...spec };
  for (const k of PER_RUN) {
    const v = (asked as Record<string, unknown>)[k];
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out as EnrollSpec;
}

/** --retune tunes with the options the unit was enrolled with: an option given with it that
 * differs (and is not simply left at its default) is refused, not silently ignored. */
function refuseOtherOptions(enrolled: EnrollSpec, asked: EnrollSpec): void {
  const defaults = parseEnrollSpec({ unit: asked.unit }) as Record<string, unknown>;
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  const given = Object.entries(asked).filter(([k, v]) => k !== 'unit' && !PER_RUN.has(k) && !same(v, (enrolled as Record<string, unknown>)[k]) && !same(v, defaults[k]));
  if (given.length) {
    throw new AutohardenError('Usage', `${asked.unit} is enrolled with other options (${given.map(([k]) => k).join(', ')}); --retune tunes it with those: leave them out, or unenroll --keep and enroll again to change them`);
  }
}

export class Daemon implements Served {
  private readonly active = new Map<string, Active>();
  /** Enrollment order: the round-robin runs over it. */
  private order: string[] = [];
  private cursor = 0;
  private readonly serial = new Serial();
  private readonly wake = new Wake();
  private readonly enrolling = new Set<string>();
  /** Enrollment files that cannot be read, with why: listed as failed, never acted on (I3). */
  private readonly broken = new Map<string, string>();
  private stopping = false;
  private loop: Promise<void> | undefined;
  private lockTimer: NodeJS.Timeout | undefined;
  readonly guard: Guard;

  constructor(private readonly d: DaemonDeps) {
    this.guard = new Guard({
      schedule: (unit, task) => {
        void this.serial.run(task).catch((e: unknown) => d.log.warn(`guard task for ${unit} failed: ${oneLine(e)}`));
      },
      ports: (unit) => this.active.get(unit)?.ports,
      enrollment: (unit) => this.active.get(unit)?.e,
      save: (e) => d.store.write(e),
      progress: (unit, message) => this.signal(unit, message),
      markFailed: (unit, why) => {
        const a = this.active.get(unit);
        if (a) this.fail(a, why);
      },
      snapshot: (unit) => d.systemd.snapshot(unit),
      watch: (unit) => d.systemd.watchUnit(unit),
      unwatch: (unit) => d.systemd.unwatchUnit(unit),
      follow: (units) => d.follow(units),
      followFiles: (unit, files) => d.followFiles(unit, files),
      knownErrors: (unit, until) => d.knownErrors(unit, until),
      logsSince: (unit, since) => d.logsSince(unit, since),
      checkSandbox: (unit, settings) => d.checkSandbox(unit, settings),
      alert: (unit, reason, evidence) => this.alert(unit, reason, evidence),
      paused: (unit) => this.active.get(unit)?.pause !== undefined,
      log: d.log,
    }, d.catalog);
  }

  /** Loads the enrollments on disk, takes their locks, starts guarding and tuning. One unit's
   * unreadable enrollment or journal marks that unit failed; the others start (I3). */
  async start(): Promise<void> {
    const list = this.d.store.list((unit, err) => {
      this.broken.set(unit, oneLine(err));
      this.d.log.error(`${unit}: failed: ignoring its enrollment: ${oneLine(err)}`);
    });
    for (const e of list) {
      const a = this.track(e);
      try {
        this.tryLock(a);
        this.loadPause(a);
        if (e.state === 'tuning' && this.tuneEnded(e.spec.unit)) {
          // Killed between the end of the tune and saving that it ended.
          e.state = 'guarding';
          this.d.store.write(e);
        }
        if (e.state === 'guarding' && a.release) {
          // I1 at daemon start: a guard action cut short (a rollback, a reproduction's arm) left
          // files or the running process out of line with the journal; bring them back first
          await this.revertAfterError(a, 'the daemon stopped during a guard action');
          await this.startGuard(a);
        }
        if (e.state === 'failed' && a.release) {
          // I1: a unit that failed in an earlier run gets no trial left behind, then is let go
          await this.revertAfterError(a, `recovering a unit that failed earlier (${e.error ?? 'unknown error'})`);
          a.release();
          a.release = undefined;
        }
        this.d.log.info(`${e.spec.unit}: ${e.state}${e.state === 'tuning' ? ' (resuming)' : ''}`);
      } catch (err) {
        this.fail(a, oneLine(err));
      }
    }
    await this.serial.run(() => this.checkPlatforms('the daemon started'));
    this.loop = this.run();
  }

  /** Stops at a safe point within TimeoutStopSec: the session under way is aborted (its next
   * settle sample or restart throws), its unit goes back to its journaled accepted set, and the
   * tune resumes at the next start (systemd/autoharden.service says how long this can take).
   * Enrollments stay on disk. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const a of this.active.values()) a.abort?.abort();
    this.wake.signal();
    clearTimeout(this.lockTimer);
    await this.loop;
    await this.serial.idle();
    // A step that ended just before the abort may leave a failed trial's revert to the next trial
    // (adaptive): do it now, so that no unit waits broken for the next start.
    for (const a of this.active.values()) {
      if (a.e.state === 'tuning' && a.release) await this.revertAfterError(a, 'the daemon is stopping');
    }
    this.guard.stop();
    for (const a of this.active.values()) clearTimeout(a.pause?.timer);
    for (const a of this.active.values()) a.release?.();
  }

  // ---- systemd events -----------------------------------------------------------------------------

  unitChanged(unit: string, iface: string, changed: Record<string, EffectiveValue>): void {
    this.guard.unitChanged(unit, iface, changed);
  }

  /** systemd re-executed or the bus came back: re-read what signals may have said meanwhile. */
  resync(): void {
    void this.guard.resync();
    // a re-exec is how a systemd upgrade takes effect: is any unit's accepted set owed a check?
    void this.serial.run(() => this.checkPlatforms('systemd re-executed or the bus came back'))
      .catch((e: unknown) => this.d.log.warn(`cannot compare platforms: ${oneLine(e)}`));
  }

  logLine(unit: string, time: number, message: string): void {
    this.guard.logLine(unit, time, message);
  }

  // ---- the API ------------------------------------------------------------------------------------

  /** The spec as JSON text (D-Bus) or an object. */
  async enroll(specJson: string | unknown): Promise<string> {
    const { retune, ...spec } = ENROLL.parse(specJson);
    const { unit } = spec;
    const enrolled = this.active.get(unit);
    if (retune && enrolled) return this.retune(enrolled, spec);
    const busy = () => {
      const a = this.active.get(unit);
      if (a || this.enrolling.has(unit)) {
        throw new ERR.AlreadyEnrolled(unit, a?.e.state ?? 'queued');
      }
    };
    busy();
    this.enrolling.add(unit);
    try {
      const info = await this.d.systemd.unitInfo(unit);
      refuseProtectedUnit('enroll', unit, info); // by its canonical name: aliases are caught too
      if (info.loadState !== 'loaded') throw new ERR.NotLoaded(unit, info.loadState);
      if (info.activeState !== 'active') throw new ERR.NotRunning(unit, info.activeState);
      const release = this.d.lock(unit, info.id);
      const e = newEnrollment(spec);
      if (info.id) e.id = info.id;
      try {
        this.d.store.write(e);
      } catch (err) {
        release();
        throw err;
      }
      const a = this.track(e);
      a.release = release;
      try {
        this.loadPause(a); // a unit `tune` touched and the admin paused: its tune waits
      } catch (err) {
        this.d.log.warn(`${unit}: cannot read its pause: ${oneLine(err)}`);
      }
      this.signal(unit, `enrolled; queued behind ${this.order.length - 1} other unit(s)`);
      this.d.log.info(`${unit}: enrolled (probes: ${spec.probes.join(' ') || 'none'})`);
      this.wake.signal();
      return unit;
    } finally {
      this.enrolling.delete(unit);
    }
  }

  status(unitArg: string): StatusRow[] {
    const { unit } = parseWire(STATUS, [unitArg]);
    if (unit) {
      const a = this.active.get(unit);
      const broken = a ? undefined : this.broken.get(unit);
      if (broken) throw new AutohardenError('Config', broken);
      const j = this.d.journal(unit);
      if (!a && !j.exists()) throw new ERR.UnknownToDaemon(unit);
      return [statusRow(unit, j.read(), a?.e, a?.current, pendingOf(a))];
    }
    const units = [...new Set([...this.order, ...this.broken.keys(), ...this.d.journaledUnits()])];
    return units.map((unit) => this.row(unit));
  }

  /** A unit's row for the listing: a corrupt journal or enrollment makes it `failed` with the
   * reason, never the listing fail (I3). */
  private row(unit: string): StatusRow {
    const a = this.active.get(unit);
    const broken = a ? undefined : this.broken.get(unit);
    try {
      const row = statusRow(unit, this.d.journal(unit).read(), a?.e, a?.current, pendingOf(a));
      return broken ? { ...row, state: 'failed', enrolled: true, error: broken } : row;
    } catch (e) {
      return { ...statusRow(unit, [], a?.e, a?.current), state: 'failed', enrolled: Boolean(a || broken), error: oneLine(e) };
    }
  }

  journal(unitArg: string): JournalRecord[] {
    return this.records(parseWire(JOURNAL, [unitArg]).unit);
  }

  private records(unit: string): JournalRecord[] {
    const j = this.d.journal(unit);
    if (!j.exists()) throw new ERR.NeverTuned(unit, this.d.stateDir);
    return j.read();
  }

  export(unitArg: string, format: string): string | Promise<string> {
    const req = parseWire(EXPORT, [unitArg, format]);
    // a profile also says what systemd and the running unit show, read on the daemon's connection
    return req.format === 'profile' ? exportWithLive(req, this.records(req.unit), this.d.systemd) : exportText(req, this.records(req.unit));
  }

  async rollback(unitArg: string, option: string, all: boolean, settleMs: number): Promise<RollbackResult> {
    const req = parseWire(ROLLBACK, [unitArg, option, all, settleMs]);
    const { unit } = req;
    this.records(unit); // UnitUnknown unless it has one
    return this.serial.run(async () => {
      const a = this.active.get(unit);
      const release = a?.release ? undefined : this.d.lock(unit, await this.d.systemd.unitInfo(unit).then((i) => i.id, () => undefined));
      this.guard.suspend(unit);
      try {
        const ports = a?.ports ?? this.d.portsFor(unit, (ev) => this.onProgress(unit, ev));
        const info = await this.d.systemd.unitInfo(unit);
        if (info.loadState !== 'loaded') throw new ERR.NotLoaded(unit, info.loadState);
        const settle = req.settleMs || a?.e.spec.settleMs || DEFAULT_SETTLE_MS;
        const r = await rollback(ports, unit, rollbackWhat(req), { settleMs: settle });
        if (a?.session) a.session = undefined; // its accepted set is stale: resume from the journal
        this.signal(unit, `rolled back ${r.removed.join(', ') || 'nothing'} (by user); ${r.verdict.ok ? 'healthy' : 'UNHEALTHY'}: ${r.verdict.reason}`);
        return r;
      } finally {
        release?.();
        await this.guard.resume(unit);
      }
    });
  }

  async unenroll(unitArg: string, modeArg: string): Promise<UnenrollResult> {
    const { unit, mode } = parseWire(UNENROLL, [unitArg, modeArg]);
    if (!this.active.has(unit)) throw new ERR.NotEnrolled(unit);
    return this.serial.run(async () => {
      const a = this.active.get(unit);
      if (!a) throw new ERR.NotEnrolled(unit);
      await this.guard.remove(unit);
      const out: UnenrollResult = { unit, mode };
      const journaled = this.d.journal(unit).exists();
      // A failed unit was let go (its lock released): take it back to act on it; a CLI holding it
      // makes this a Locked error, said to the caller.
      if (!a.release && journaled && !this.tryLock(a)) throw new ERR.LockedTryAgain(unit);
      // I1: whatever was under way (a failed unit's trial included) is reverted before it is let go
      if (a.release && journaled) await this.revertAfterError(a, `unenroll --${mode}`);
      if (a.release && journaled) {
        if (mode === 'remove') {
          out.rollback = await rollback(a.ports, unit, { all: true }, { settleMs: a.e.spec.settleMs, reason: 'unenroll --remove' });
        } else if (a.e.state === 'tuning') {
          out.kept = await keepAccepted(a.ports, a.e.spec.unit, { settleMs: a.e.spec.settleMs, probes: specProbes(a.e.spec), persist: a.e.spec.persist });
        }
      }
      a.ports.fault('unenroll');
      this.forget(unit);
      this.signal(unit, `unenrolled (${mode})`, 'unenrolled');
      this.d.log.info(`${unit}: unenrolled (${mode})`);
      return out;
    });
  }

  /** `guard pause|resume`: journaled first (the source of truth, also for a daemon that restarts),
   * then acted on: a pause stops the guard's actions on the unit, a resume makes it look afresh. */
  async guardPause(unitArg: string, action: string, forMs: number): Promise<PauseResult> {
    const req = parseWire(GUARD_PAUSE, [unitArg, action, forMs]);
    const { unit } = req;
    const a = this.active.get(unit);
    // a unit the daemon does not hold (only tuned, or failed and let go): its journal's lock
    const release = a?.release ? undefined : this.d.lock(unit, a?.e.id);
    try {
      const j = this.d.journal(unit);
      const journaled = j.exists();
      const { record, result } = decidePause(req, { records: journaled ? j.read() : [], journaled, ...(a ? { state: a.e.state } : {}) }, Date.now());
      if (record) (a?.ports ?? this.d.portsFor(unit, () => {})).journal.append(record);
      if (a && result.action === 'pause') {
        this.setPause(a, Date.parse(result.until!), a.pause?.since ?? Date.now());
        this.signal(unit, `guard paused until ${result.until} by the admin: no guard action, tune or re-verification until then`);
        this.d.log.info(`${unit}: guard paused until ${result.until}`);
      } else if (a && result.changed) {
        await this.endPause(a, 'resumed by the admin');
      }
      return result;
    } finally {
      release?.();
    }
  }

  /** The pause journaled for the unit: kept (with its timer), or journaled as ended if its time
   * came while the daemon was away. */
  private loadPause(a: Active): void {
    const records = a.ports.journal.read();
    const now = Date.now();
    const expired = expiredPause(records, now);
    if (expired) {
      if (!a.release) return; // another autoharden holds the journal: journaled when we take it
      a.ports.journal.append(expired);
      this.d.log.info(`${a.e.spec.unit}: its guard pause ended while the daemon was not running`);
      return;
    }
    const until = pausedUntil(records, now);
    if (until !== undefined) this.setPause(a, until, Date.parse(openPause(records)!.at));
  }

  private setPause(a: Active, until: number, since: number): void {
    clearTimeout(a.pause?.timer);
    const timer = setTimeout(() => {
      void this.serial.run(() => this.expirePause(a)).catch((e: unknown) => this.d.log.warn(`${a.e.spec.unit}: ending its pause: ${oneLine(e)}`));
    }, Math.max(0, until - Date.now()));
    timer.unref();
    a.pause = { until, since, timer };
  }

  /** The pause's time is up: journaled as a resume by expiry, then the guard looks afresh. */
  private async expirePause(a: Active): Promise<void> {
    if (this.active.get(a.e.spec.unit) !== a || !a.pause) return;
    const rec = expiredPause(a.ports.journal.read(), Date.now());
    if (!rec) return; // resumed or paused again meanwhile
    a.ports.journal.append(rec);
    await this.endPause(a, 'its pause ended');
  }

  private async endPause(a: Active, why: string): Promise<void> {
    const { unit } = a.e.spec;
    const since = a.pause?.since ?? Date.now();
    clearTimeout(a.pause?.timer);
    a.pause = undefined;
    this.signal(unit, `guard ${why}: looking at the unit afresh`);
    this.d.log.info(`${unit}: guard ${why}; looking at it afresh`);
    await this.guard.lookAfresh(unit, since);
    this.wake.signal(); // a queued tune or an owed re-verification may go ahead now
  }

  // ---- the queue ----------------------------------------------------------------------------------

  private async run(): Promise<void> {
    while (!this.stopping) {
      const a = this.pickNext();
      if (!a) {
        await this.wake.wait();
        continue;
      }
      // An error escaping a step (the lock file, the state directory) fails that unit, not the loop.
      await this.serial.run(() => this.advance(a)).catch((e: unknown) => {
        if (this.active.get(a.e.spec.unit) === a) this.fail(a, oneLine(e));
        else this.d.log.warn(`${a.e.spec.unit}: ${oneLine(e)}`);
      });
    }
  }

  /** Round-robin: the next unit after the last one served that has tuning to do (or a guarded
   * unit whose lock a `tune` held when the daemon started). */
  private pickNext(): Active | undefined {
    const n = this.order.length;
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const idx = (this.cursor + i) % n;
      const a = this.active.get(this.order[idx]!);
      if (!a) continue;
      // a paused unit's tune waits for the pause to end (one under way goes on: pause refuses it)
      const tuning = (a.e.state === 'queued' && !a.pause) || a.e.state === 'tuning';
      const unguarded = a.e.state === 'guarding' && !a.release;
      if (!tuning && !unguarded) continue;
      if (!a.release && (a.lockRetryAt ?? 0) > now) continue;
      this.cursor = (idx + 1) % n;
      return a;
    }
    // A quiet moment: no unit has tuning to do. Then one owed re-verification.
    for (const unit of this.order) {
      const a = this.active.get(unit);
      if (a?.e.state === 'guarding' && a.release && a.reverify && !a.reverify.deferred && !a.pause) return a;
    }
    return undefined;
  }

  /** One step of one unit: begin its tune, run one trial, or finish. */
  private async advance(a: Active): Promise<void> {
    const { unit } = a.e.spec;
    if (this.stopping || this.active.get(unit) !== a) return;
    if (a.e.state === 'guarding') {
      if (!a.release && this.tryLock(a)) await this.startGuard(a);
      else if (a.release && a.reverify && !a.reverify.deferred) await this.reverifyUnit(a);
      return;
    }
    if (a.e.state !== 'queued' && a.e.state !== 'tuning') return;
    if (!a.release && !this.tryLock(a)) return;
    try {
      if (!a.session) {
        const resume = a.e.state === 'tuning';
        a.abort = new AbortController();
        const o: TuneOptions = {
          unit, probes: specProbes(a.e.spec), settleMs: a.e.spec.settleMs, strategy: a.e.spec.strategy,
          persist: a.e.spec.persist, declarations: specDeclarations(a.e.spec), resume, signal: a.abort.signal,
        };
        const workload = specWorkload(a.e.spec);
        if (workload) o.workload = workload;
        if (a.e.spec.budget !== undefined) o.budget = a.e.spec.budget;
        const limits = specLimits(a.e.spec);
        if (limits) o.limits = limits;
        const s = this.d.newSession ? this.d.newSession(a.ports, o, this.d.catalog) : new TuneSession(a.ports, o, this.d.catalog);
        this.signal(unit, resume ? 'resuming tuning' : 'tuning begins', 'tuning');
        await s.begin();
        a.session = s;
        if (!resume) a.e.baseline = await this.baseline(a);
        if (a.e.state !== 'tuning' || !resume) this.setState(a, 'tuning');
        this.signal(unit, `tuning: exposure ${s.report.exposureBefore.toFixed(1)} before`);
        a.transientErrors = 0;
        return;
      }
      const more = await a.session.step();
      a.transientErrors = 0;
      if (more) return;
      const report = await a.session.finish();
      a.session = undefined;
      a.current = null;
      a.e.report = report;
      this.setState(a, 'guarding');
      // stopped early by its limits: what it kept was verified, and is guarded like a full tune's
      const early = report.complete !== false ? '' : ` (stopped early: ${report.stoppedBy ?? 'a limit reached'}; what was kept is verified)`;
      this.signal(unit, `tuning done: exposure ${report.exposureBefore.toFixed(1)} → ${report.exposureAfter.toFixed(1)}, ${report.trials} trials${early}; guarding`);
      this.d.log.info(`${unit}: tuned ${report.exposureBefore.toFixed(1)} → ${report.exposureAfter.toFixed(1)} in ${report.trials} trials`);
      await this.startGuard(a);
    } catch (e) {
      a.session = undefined;
      a.current = null;
      if (this.stopping) {
        // Aborted at a safe point (or failing while the daemon stops): the unit runs its accepted
        // set again and is not marked failed — its state stays as journaled and the next start
        // resumes the tune (I1).
        await this.revertAfterError(a, `the daemon is stopping (${oneLine(e)})`);
        return;
      }
      if (transient(e) && ++a.transientErrors <= MAX_TRANSIENT_ERRORS) {
        this.d.log.warn(`${unit}: ${oneLine(e)}; will resume`);
        return;
      }
      await this.revertAfterError(a, oneLine(e));
      this.fail(a, oneLine(e));
    }
  }

  /** I1 on an ordinary error: no trial drop-in survives it, and the unit runs its journaled
   * accepted set. Never throws: it runs on error paths; what it cannot do is logged loudly. */
  private async revertAfterError(a: Active, why: string): Promise<void> {
    const { unit } = a.e.spec;
    try {
      const r = await recoverUnit(a.ports, unit, { settleMs: a.e.spec.settleMs, probes: specProbes(a.e.spec), reason: `${why}; reverted` });
      if (r.recovered) this.d.log.warn(`${unit}: reverted to its accepted set after: ${why}`);
    } catch (e) {
      this.d.log.error(`${unit}: could not revert after an error (${why}): ${oneLine(e)}`);
    }
  }

  // ---- after an upgrade -----------------------------------------------------------------------------

  /** Compares each guarded unit's verified platform with the running one; a unit whose systemd or
   * kernel changed is owed one re-verification (run at a quiet moment by the queue). Runs in the
   * serial queue, so that it never reads a journal in the middle of a re-verification. */
  private async checkPlatforms(why: string): Promise<void> {
    // the fingerprint is the host's (systemd, kernel, features, LSMs): read once, not per unit
    let running: Promise<Fingerprint> | undefined;
    for (const a of this.active.values()) {
      if (a.e.state !== 'guarding') continue;
      const { unit } = a.e.spec;
      try {
        running ??= a.ports.platform(unit).then(platformFingerprint);
        const now = await running;
        const d = upgradeDecision(a.ports.journal.read(), now);
        if (d.kind === 'changed') {
          a.reverify = { from: d.from, to: now, changes: d.changes };
          this.d.log.info(`${unit}: ${d.changes.join(', ')} since its accepted set was verified (${why}): re-verify pending`);
          this.signal(unit, `re-verify pending: ${d.changes.join(', ')}`);
        } else {
          a.reverify = undefined;
          if (d.kind === 'unknown') this.d.log.debug(`${unit}: ${d.reason}`);
        }
      } catch (e) {
        this.d.log.warn(`${unit}: cannot compare its platform with the running one: ${oneLine(e)}`);
      }
    }
    this.wake.signal();
  }

  /** The owed re-verification: one restart of the accepted set as is, judged by its probes;
   * journaled (engine/reverify.ts), never repeated for the same platform, never trying anything new. */
  private async reverifyUnit(a: Active): Promise<void> {
    const r = a.reverify!;
    const { spec } = a.e;
    const { unit } = spec;
    const info = await this.d.systemd.unitInfo(unit).catch(() => undefined);
    if (info?.activeState !== 'active') {
      // a unit the admin stopped stays stopped; its next start runs the set under the guard
      r.deferred = true;
      this.d.log.info(`${unit}: not running (${info?.activeState ?? 'unknown'}): re-verify deferred to the next start of the daemon or re-exec of systemd`);
      return;
    }
    const abort = (a.abort = new AbortController());
    this.guard.suspend(unit);
    this.signal(unit, `re-verifying after ${r.changes.join(', ')}`);
    try {
      const out = await reverify(a.ports, {
        unit, probes: specProbes(spec), settleMs: spec.settleMs, catalog: this.d.catalog, signal: abort.signal,
        watch: { logFiles: a.e.baseline?.logFiles ?? [], knownErrors: new Set(a.e.baseline?.knownErrors ?? []) },
        platform: r.to, from: r.from, changes: r.changes,
      });
      a.reverify = undefined;
      a.transientErrors = 0;
      const line = `re-verified after ${r.changes.join(', ')}: ${out.outcome}: ${out.reason}`;
      if (out.outcome === 'unhealthy') this.alert(unit, line, []);
      else this.signal(unit, line);
      this.d.log[out.outcome === 'ok' ? 'info' : 'warn'](`${unit}: ${line}`);
    } catch (e) {
      await this.revertAfterError(a, `re-verify: ${oneLine(e)}`);
      if (this.stopping) return; // cut short: the next start verifies again
      if (transient(e) && ++a.transientErrors <= MAX_TRANSIENT_ERRORS) {
        this.d.log.warn(`${unit}: re-verify: ${oneLine(e)}; will try again`);
        return;
      }
      a.reverify = undefined;
      const line = `re-verify after ${r.changes.join(', ')} failed: ${oneLine(e)}`;
      try {
        a.ports.journal.append({ kind: 'reverify', outcome: 'unhealthy', options: [], reason: oneLine(e), platform: r.to, from: r.from, changes: r.changes });
      } catch (je) {
        this.d.log.error(`${unit}: cannot journal the re-verify: ${oneLine(je)}`);
      }
      this.alert(unit, line, []);
    } finally {
      a.abort = undefined;
      await this.guard.resume(unit);
    }
  }

  /** `enroll --retune` of an enrolled unit: a full tune again, with the options it was enrolled
   * with (what the running systemd offers is tried then, as by `tune`). */
  private async retune(a: Active, asked: EnrollSpec): Promise<string> {
    const { unit } = asked;
    refuseOtherOptions(a.e.spec, asked);
    return this.serial.run(async () => {
      if (this.active.get(unit) !== a) throw new ERR.NotEnrolled(unit);
      if (a.e.state === 'queued' || a.e.state === 'tuning') {
        throw new AutohardenError('Failed', `${unit} is being tuned already (${a.e.state}); --retune has nothing to add`);
      }
      await this.guard.remove(unit);
      a.reverify = undefined; // the tune verifies everything on the running platform
      a.session = undefined;
      a.current = null;
      a.transientErrors = 0;
      a.e.spec = withRunLimits(a.e.spec, asked);
      this.setState(a, 'queued'); // persists the spec with this run's limits
      this.signal(unit, `re-tune requested: queued${a.pause ? ' (its guard is paused: the tune begins when the pause ends)' : ''}`);
      this.d.log.info(`${unit}: re-tune requested`);
      this.wake.signal();
      return unit;
    });
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private track(e: Enrollment): Active {
    const unit = e.spec.unit;
    const a: Active = { e, ports: this.d.portsFor(unit, (ev) => this.onProgress(unit, ev)), current: null, transientErrors: 0 };
    this.active.set(unit, a);
    this.broken.delete(unit);
    if (!this.order.includes(unit)) this.order.push(unit);
    return a;
  }

  private forget(unit: string): void {
    const a = this.active.get(unit);
    clearTimeout(a?.pause?.timer);
    this.active.delete(unit);
    this.order = this.order.filter((u) => u !== unit);
    this.cursor = this.order.length ? this.cursor % this.order.length : 0;
    a?.release?.();
    this.d.store.remove(unit);
  }

  private tryLock(a: Active): boolean {
    try {
      a.release = this.d.lock(a.e.spec.unit, a.e.id);
      a.lockRetryAt = undefined;
      return true;
    } catch (e) {
      if (!(e instanceof AutohardenError) || e.code !== 'Locked') throw e;
      a.lockRetryAt = Date.now() + LOCK_RETRY_MS;
      this.d.log.warn(`${a.e.spec.unit}: ${e.message}; retrying in ${LOCK_RETRY_MS / 1000} s`);
      clearTimeout(this.lockTimer);
      this.lockTimer = setTimeout(() => this.wake.signal(), LOCK_RETRY_MS);
      return false;
    }
  }

  private tuneEnded(unit: string): boolean {
    const records = this.d.journal(unit).read();
    let ended = false;
    for (const r of records) {
      if (r.kind === 'tune-begin') ended = false;
      if (r.kind === 'tune-end') ended = true;
    }
    return ended;
  }

  private async startGuard(a: Active): Promise<void> {
    const records = this.d.journal(a.e.spec.unit).read();
    const began = records.filter((r) => r.kind === 'tune-begin').at(-1);
    try {
      await this.guard.add(a.e.spec.unit, began ? new Date(began.t) : new Date(a.e.enrolledAt), a.e.baseline);
    } catch (e) {
      this.d.log.warn(`${a.e.spec.unit}: cannot guard it yet: ${oneLine(e)}`);
    }
  }

  /** What the unit logs before any trial (the tuner takes the same baseline for itself). */
  private async baseline(a: Active): Promise<Enrollment['baseline']> {
    const { unit } = a.e.spec;
    try {
      const { logFiles } = await a.ports.observe(unit);
      return { knownErrors: [...errorSignatures(await a.ports.recentLogs(unit, logFiles))], logFiles };
    } catch (e) {
      this.d.log.warn(`${unit}: no baseline of its logs: ${oneLine(e)}`);
      return undefined;
    }
  }

  /** Unenroll --keep while tuning: the accepted set goes where tuning would have put it. */
  private setState(a: Active, state: EnrollmentState): void {
    a.e.state = state;
    if (state !== 'failed') delete a.e.error;
    this.d.store.write(a.e);
  }

  /** Marks the unit failed. Never throws: it runs inside error handlers, and an exception here
   * would crash-loop the daemon for every unit (I3). A full or read-only state directory leaves
   * the state in memory only, said loudly. */
  private fail(a: Active, why: string): void {
    const { unit } = a.e.spec;
    a.e.error = why;
    a.current = null;
    a.session = undefined;
    try {
      this.setState(a, 'failed');
    } catch (e) {
      a.e.state = 'failed';
      this.d.log.error(`${unit}: cannot save that it failed (${oneLine(e)}); a restarted daemon will try it again`);
    }
    this.guard.remove(unit).catch((e: unknown) => this.d.log.warn(`${unit}: cannot stop guarding it: ${oneLine(e)}`));
    // a failed unit is the admin's now: `tune` and `rollback` from the CLI must not find it locked
    a.release?.();
    a.release = undefined;
    try {
      this.signal(unit, `failed: ${why}`);
    } catch (e) {
      this.d.log.warn(`${unit}: cannot signal that it failed: ${oneLine(e)}`);
    }
    this.d.log.error(`${unit}: failed: ${why}`);
  }

  /** An alert: journaled (a record of its own kind), signalled, and in the daemon's log. A
   * journal that cannot be written does not silence it. */
  private alert(unit: string, reason: string, evidence: string[]): void {
    const line = flattened(reason);
    this.d.log.warn(`ALERT ${unit}: ${line}`);
    this.d.signals.alert(unit, line);
    try {
      this.active.get(unit)?.ports.journal.append({ kind: 'alert', by: 'guard', reason: line, evidence: evidence.map((l) => l.slice(0, 1000)) });
    } catch (e) {
      this.d.log.error(`cannot journal the alert for ${unit}: ${oneLine(e)}`);
    }
  }

  private signal(unit: string, message: string, state?: string): void {
    this.d.signals.progress(unit, state ?? this.active.get(unit)?.e.state ?? 'unenrolled', message);
  }

  private onProgress(unit: string, ev: ProgressEvent): void {
    const a = this.active.get(unit);
    if (ev.type === 'trial') {
      const settings = settingsText(ev.settings);
      if (a) a.current = { trial: ev.trial, settings };
      this.signal(unit, `trial #${ev.trial}: ${settings}`);
    } else if (ev.type === 'verdict') {
      if (a) a.current = null;
      this.d.signals.trialFinished(unit, ev.trial, ev.outcome, settingsText(ev.settings), ev.reason);
      this.d.log.info(`${unit}: trial #${ev.trial} ${ev.outcome}: ${settingsText(ev.settings)} — ${ev.reason}`);
    } else {
      this.signal(unit, ev.message);
    }
  }
}
