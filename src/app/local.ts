// The use cases acted out in this process, on the state directory and systemd: what the CLI does
// when no daemon serves its state directory. Every adapter comes from the composition root, loaded
// when a use case runs (a quick `status` loads only the state directory's).
import { AutohardenError, ERR, Interrupted } from '../core/errors.js';
import { DEFAULT_SETTLE_MS } from '../core/limits.js';
import type { JournalRecord } from '../core/journal.js';
import type { ProgressEvent } from '../engine/ports.js';
import type { App, Stop } from './app.js';
import type { EnrollSpec } from './enroll.js';
import type { ExportRequest } from './export.js';
import type { GuardPauseRequest, PauseResult } from './guardPause.js';
import type { JournalRequest } from './journal.js';
import { rollbackWhat, type RollbackRequest, type RollbackResult } from './rollback.js';
import type { ScoreRequest, ScoreResult } from './score.js';
import type { StatusRequest, StatusRow } from './status.js';
import type { TuneReport, TuneRequest } from './tune.js';
import { limitsFrom } from '../core/tuneLimits.js';
import type { UnenrollRequest, UnenrollResult } from './unenroll.js';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new ERR.NotRoot();
}

const firstLine = (e: unknown) => (e as Error).message.split('\n')[0];

export class LocalApp implements App {
  constructor(
    private readonly stateDir: string,
    private readonly progress: (e: ProgressEvent) => void,
  ) {}

  close(): void {}

  async enroll(_req: EnrollSpec): Promise<string> {
    throw new ERR.DaemonNotRunning();
  }

  async tune(req: TuneRequest, stopper: () => Stop): Promise<TuneReport> {
    requireRoot();
    const { unit, probes, settleMs } = req;
    const [{ buildPorts, connectSystemd }, { CATALOG }, { recoverUnit }, { tune }, { refuseProtectedUnit }, priors] = await Promise.all([
      import('../compose.js'), import('../core/catalog.js'), import('../engine/recover.js'), import('../engine/tune.js'), import('../core/protectedUnits.js'),
      import('./priors.js'),
    ]);
    const warn = (m: string) => this.progress({ type: 'info', message: `WARNING: ${m}` });
    const systemd = await connectSystemd();
    try {
      const ports = buildPorts(systemd, unit, { stateDir: this.stateDir, progress: this.progress });
      const info = await systemd.unitInfo(unit); // unknown units fail here, before the lock or any state is created
      // Refusals that need no recovery first come before the lock, so that they change nothing.
      refuseProtectedUnit('tune', unit, info);
      if (info.loadState !== 'loaded') throw new ERR.NotLoaded(unit, info.loadState);
      if (info.activeState !== 'active' && ports.journal.read().length === 0) throw new ERR.NotRunning(unit, info.activeState);
      const stop = stopper();
      return await this.withUnit(unit, async () => {
        try {
          const declarations = { allowNet: req.allowNet, localOnly: req.localOnly, confineSessions: req.confineSessions };
          const o = { unit, probes, settleMs, strategy: req.strategy, persist: req.persist, declarations, signal: stop.signal };
          const battery = req.audit ? await import('./tuneAudit.js') : undefined;
          const before = battery ? await battery.runBattery(unit, 'before', warn) : undefined;
          if (before) ports.journal.append(before.record);
          // the host's learnt priors reorder and batch the trials; this tune's trials then join them
          const report = await tune(ports, {
            ...o, measureRestarts: req.measureRestarts, ...(req.workload ? { workload: req.workload } : {}), ...(req.budget !== undefined ? { budget: req.budget } : {}),
            ...limitsFrom(req),
          }, priors.learnedCatalog(this.stateDir, CATALOG, warn));
          priors.learnFromTune(this.stateDir, () => ports.journal.read(), warn);
          if (battery) {
            const after = await battery.runBattery(unit, 'after', warn);
            if (after) ports.journal.append(after.record);
            report.audit = battery.tuneAudit(before, after);
          }
          return report;
        } catch (e) {
          const sig = stop.received();
          if (!sig) {
            // I1 on an ordinary error too: no trial drop-in outlives this command
            await recoverUnit(ports, unit, { settleMs, probes, reason: `tune failed (${firstLine(e)}); reverted` })
              .catch((r: unknown) => this.progress({ type: 'info', message: `WARNING: could not revert ${unit}: ${firstLine(r)}` }));
            throw e;
          }
          await recoverUnit(ports, unit, { settleMs, probes, reason: `interrupted by ${sig}; reverted` });
          throw new Interrupted(sig, `interrupted by ${sig}; the unfinished trial was reverted`);
        }
      }, info.id);
    } finally {
      systemd.close();
    }
  }

  async status(req: StatusRequest): Promise<StatusRow[]> {
    const [{ enrollmentStore, journalFor, journaledUnits }, { statusRow }] = await Promise.all([import('../compose/state.js'), import('../daemon/status.js')]);
    const { stateDir } = this;
    const broken = new Map<string, string>(); // unreadable enrollments: that unit fails, not the listing (I3)
    const enrolled = new Map(enrollmentStore(stateDir).list((unit, e) => broken.set(unit, e.message)).map((e) => [e.spec.unit, e]));
    if (req.unit) {
      const { unit } = req;
      const j = journalFor(stateDir, unit);
      if (broken.has(unit)) throw new AutohardenError('Config', broken.get(unit)!);
      if (!enrolled.has(unit) && !j.exists()) throw new ERR.NeverTuned(unit, stateDir);
      return [statusRow(unit, j.read(), enrolled.get(unit))];
    }
    const units = [...new Set([...enrolled.keys(), ...broken.keys(), ...journaledUnits(stateDir)])].sort();
    return units.map((unit): StatusRow => {
      const enrollment = enrolled.get(unit);
      const bad = broken.get(unit);
      try {
        const row = statusRow(unit, journalFor(stateDir, unit).read(), enrollment);
        return bad ? { ...row, state: 'failed', enrolled: true, error: bad } : row;
      } catch (e) {
        return { ...statusRow(unit, [], enrollment), state: 'failed', enrolled: Boolean(enrollment || bad), error: (e as Error).message };
      }
    });
  }

  async journal(req: JournalRequest): Promise<JournalRecord[]> {
    return (await this.requireJournal(req.unit)).read();
  }

  async export(req: ExportRequest): Promise<string> {
    const { exportText, exportWithLive } = await import('./export.js');
    const records = (await this.requireJournal(req.unit)).read();
    if (req.format !== 'profile') return exportText(req, records);
    // a profile says what systemd and the running unit show: read here, as the daemon would
    const { connectSystemd } = await import('../compose.js');
    const systemd = await connectSystemd().catch((e: unknown) => firstLine(e) ?? 'unknown error');
    if (typeof systemd === 'string') return exportWithLive(req, records, undefined, `systemd could not be reached: ${systemd}`);
    try {
      return await exportWithLive(req, records, systemd);
    } finally {
      systemd.close();
    }
  }

  async rollback(req: RollbackRequest): Promise<RollbackResult> {
    const { unit } = req;
    requireRoot();
    await this.requireJournal(unit);
    const [{ buildPorts, connectSystemd }, { rollback }] = await Promise.all([import('../compose.js'), import('../engine/rollback.js')]);
    const systemd = await connectSystemd();
    try {
      const ports = buildPorts(systemd, unit, { stateDir: this.stateDir, progress: this.progress });
      const info = await systemd.unitInfo(unit);
      if (info.loadState !== 'loaded') throw new ERR.NotLoaded(unit, info.loadState);
      return await this.withUnit(unit, () => rollback(ports, unit, rollbackWhat(req), { settleMs: req.settleMs || DEFAULT_SETTLE_MS }), info.id);
    } finally {
      systemd.close();
    }
  }

  async unenroll(req: UnenrollRequest): Promise<UnenrollResult> {
    const { unit, mode } = req;
    requireRoot();
    const [{ enrollmentStore }, { buildPorts, connectSystemd }, { rollback }] = await Promise.all([
      import('../compose/state.js'), import('../compose.js'), import('../engine/rollback.js'),
    ]);
    const store = enrollmentStore(this.stateDir);
    const e = store.read(unit);
    if (!e) throw new ERR.NotEnrolled(unit);
    const result: UnenrollResult = { unit, mode };
    if (mode === 'remove') {
      const systemd = await connectSystemd();
      try {
        const ports = buildPorts(systemd, unit, { stateDir: this.stateDir, progress: this.progress });
        if (ports.journal.read().length) {
          const { id } = await systemd.unitInfo(unit).catch(() => ({ id: undefined }));
          result.rollback = await this.withUnit(unit, () => rollback(ports, unit, { all: true }, { settleMs: e.spec.settleMs, reason: 'unenroll --remove' }), id);
        }
      } finally {
        systemd.close();
      }
    }
    store.remove(unit);
    return result;
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    const { unit } = req;
    const { connectSystemd, exposure } = await import('../compose.js');
    const systemd = await connectSystemd();
    try {
      const info = await systemd.unitInfo(unit);
      if (info.loadState !== 'loaded') throw new ERR.NotLoaded(unit, info.loadState);
    } finally {
      systemd.close();
    }
    return { unit, exposure: await exposure(unit) };
  }

  /** On the state directory, under the unit's lock: the daemon reads the pause when it starts. */
  async guardPause(req: GuardPauseRequest): Promise<PauseResult> {
    requireRoot();
    const [{ enrollmentStore, journalFor }, { decidePause }] = await Promise.all([import('../compose/state.js'), import('./guardPause.js')]);
    return this.withUnit(req.unit, async () => {
      const j = journalFor(this.stateDir, req.unit);
      const journaled = j.exists();
      const state = enrollmentStore(this.stateDir).read(req.unit)?.state;
      const { record, result } = decidePause(req, { records: journaled ? j.read() : [], journaled, ...(state ? { state } : {}) }, Date.now());
      if (record) j.append(record);
      return result;
    });
  }

  private async requireJournal(unit: string) {
    const { journalFor } = await import('../compose/state.js');
    const j = journalFor(this.stateDir, unit);
    if (!j.exists()) throw new ERR.NeverTuned(unit, this.stateDir);
    return j;
  }

  /** Runs fn holding the unit's lock, keyed by its canonical Id (UnitInfo.id) when systemd said it. */
  private async withUnit<T>(unit: string, fn: () => Promise<T>, id?: string): Promise<T> {
    const { lockFor } = await import('../compose/state.js');
    const release = lockFor(this.stateDir)(unit, id);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
