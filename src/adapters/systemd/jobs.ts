// Jobs: enqueue (RestartUnit, …) and wait for the job's JobRemoved, including a result that comes
// before the enqueue reply, and a job that ended while systemd was re-executing (no JobRemoved).
import type { UnitSnapshot } from '../../core/types.js';
import type { SystemdBus } from './bus.js';
import { SystemdError } from './errors.js';
import { JOB_IFACE, MANAGER_IFACE, MANAGER_PATH, PROPS_IFACE, SYSTEMD } from './names.js';

/** JobRemoved results kept for jobs whose enqueue call has not returned yet (a bound, not a quota). */
const MAX_BUFFERED_RESULTS = 4096;

interface JobWaiter {
  unit: string;
  resolve(result: string): void;
  fail(err: SystemdError): void;
}

export class JobTracker {
  private readonly waiters = new Map<string, JobWaiter>();
  private readonly results = new Map<string, string>();
  /** Enqueue calls awaiting their reply: while > 0, JobRemoved results for jobs nobody waits for
   * yet are buffered by job path. */
  private enqueuing = 0;

  constructor(
    private readonly bus: SystemdBus,
    private readonly snapshot: (unit: string) => Promise<UnitSnapshot>,
  ) {}

  /** `method`(unit, 'replace') (or `method`(...body)); resolves with that job's JobRemoved result.
   * Rejects with Timeout when no result comes within timeoutMs (the call included). */
  async run(method: string, unit: string, timeoutMs: number, signature = 'ss', body: unknown[] = [unit, 'replace']): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let outcome: string | Promise<string>;
    this.enqueuing++;
    try {
      let job: string;
      try {
        const [path] = await this.bus.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, method, signature, body,
          Math.min(this.bus.callTimeoutMs, timeoutMs));
        if (typeof path !== 'string') throw new SystemdError('Protocol', `${method} returned no job path`);
        job = path;
      } catch (e) {
        if (e instanceof SystemdError && e.code === 'Failed' && e.dbusName?.startsWith(`${SYSTEMD}.`)) {
          throw new SystemdError('JobFailed', e.message, e.dbusName);
        }
        throw e;
      }
      // The result may already be here: JobRemoved can arrive in the same socket read as the
      // reply (dbus-next handles a whole read before this continuation runs) or even earlier.
      const early = this.results.get(job);
      this.results.delete(job);
      // wait() registers its waiter synchronously, so nothing falls between buffer and waiter.
      outcome = early ?? this.wait(job, unit, Math.max(0, deadline - Date.now()));
    } finally {
      if (--this.enqueuing === 0) this.results.clear();
    }
    return outcome;
  }

  /** JobRemoved from systemd. */
  removed(job: string, result: string): void {
    const waiter = this.waiters.get(job);
    if (waiter) {
      this.waiters.delete(job);
      waiter.resolve(result);
      return;
    }
    if (this.enqueuing === 0) return;
    this.results.set(job, result);
    if (this.results.size > MAX_BUFFERED_RESULTS) {
      const oldest = this.results.keys().next().value;
      if (oldest !== undefined) this.results.delete(oldest);
    }
  }

  /** After systemd came back: a job that ended while it was away has no JobRemoved coming, so
   * settle it from the unit's state. One that still exists will send its JobRemoved. */
  async recheckAll(): Promise<void> {
    await Promise.all([...this.waiters.keys()].map((job) => this.recheck(job)));
  }

  failAll(err: SystemdError): void {
    for (const [job, w] of [...this.waiters]) {
      this.waiters.delete(job);
      w.fail(err);
    }
    this.results.clear();
  }

  private wait(job: string, unit: string, timeoutMs: number): Promise<string> {
    const failure = this.bus.failed;
    if (failure) return Promise.reject(failure);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(job);
        reject(new SystemdError('Timeout', `job ${job} for ${unit} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(job, {
        unit,
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        fail: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });
  }

  private async recheck(job: string): Promise<void> {
    const waiter = this.waiters.get(job);
    if (!waiter) return;
    try {
      await this.bus.call(SYSTEMD, job, PROPS_IFACE, 'Get', 'ss', [JOB_IFACE, 'State']);
      return; // still queued or running
    } catch (e) {
      if (!(e instanceof SystemdError) || e.code === 'Bus' || e.code === 'Timeout') return;
    }
    const snap = await this.snapshot(waiter.unit).catch(() => undefined);
    if (this.waiters.get(job) !== waiter) return; // JobRemoved came meanwhile
    this.waiters.delete(job);
    const up = snap && ['active', 'reloading', 'activating'].includes(snap.activeState);
    waiter.resolve(up ? 'done' : 'failed');
  }
}
