// A simulated service behind the engine's Ports, for the daemon's unit tests: it starts, fails or
// logs according to which options are accepted, and counts restarts; and stand-ins for the
// daemon's other dependencies (systemd, sessions). Not a test file.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalStore } from '../../src/adapters/journalStore.js';
import { lockUnit } from '../../src/adapters/lock.js';
import { journalFor } from '../../src/compose.js';
import { CATALOG } from '../../src/core/catalog.js';
import { renderDropIn } from '../../src/core/dropin.js';
import type { Setting, UnitSnapshot } from '../../src/core/types.js';
import type { DaemonDeps, Session } from '../../src/daemon/daemon.js';
import { EnrollmentStore } from '../../src/daemon/store.js';
import type { Ports, UnitInfo } from '../../src/engine/ports.js';
import { DEBIAN12_PLATFORM } from '../fakes/platforms.js';

export const setting = (option: string, value = 'yes'): Setting => ({ option, value, lines: [`${option}=${value}`] });

export interface Behaviour {
  /** Why a start fails under the accepted set: exit status and log lines; undefined: it runs. */
  startFails?(accepted: readonly string[]): { status: number; logs: string[] } | undefined;
  /** The exit status systemd gives when it cannot set up the sandbox of these settings at all
   * (what the guard's check unit with /bin/true sees); undefined: it sets up. */
  setupFails?(settings: readonly string[]): number | undefined;
}

export class SimUnit {
  snap: UnitSnapshot;
  accepted: Setting[] = [];
  restarts = 0;
  logs: string[] = [];
  private inv = 1;

  constructor(readonly name: string, public behaviour: Behaviour = {}) {
    this.snap = { activeState: 'active', subState: 'running', result: 'success', invocationId: 'inv1', nRestarts: 0, mainPid: 100, execMainCode: 0, execMainStatus: 0 };
  }

  start(): string {
    this.restarts++;
    this.snap = { ...this.snap, invocationId: `inv${++this.inv}` };
    const f = this.behaviour.startFails?.(this.accepted.map((s) => s.option));
    if (f) {
      this.snap = { ...this.snap, activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: f.status, mainPid: 0 };
      this.logs.push(...f.logs, `Main process exited, code=exited, status=${f.status}/FAILURE`);
      return 'done';
    }
    this.snap = { ...this.snap, activeState: 'active', subState: 'running', result: 'success', execMainCode: 0, execMainStatus: 0, mainPid: 100 + this.inv };
    return 'done';
  }
}

export function simPorts(unit: SimUnit, stateDir = mkdtempSync(join(tmpdir(), 'ah-daemon-'))): Ports & { stateDir: string } {
  const info = (): UnitInfo => ({
    loadState: 'loaded', activeState: unit.snap.activeState, subState: unit.snap.subState, fragmentPath: '', dropInPaths: [], needDaemonReload: false, type: 'simple',
  });
  let written: string | undefined;
  return {
    stateDir,
    systemd: {
      version: async () => 252,
      unitInfo: async () => info(),
      snapshot: async () => ({ ...unit.snap }),
      serviceProperties: async () => ({}),
      reload: async () => {},
      resetFailed: async () => {},
      restart: async () => unit.start(),
    },
    journal: new JournalStore(stateDir, unit.name),
    dropins: {
      writeTrial: () => '',
      removeTrial: () => false,
      hasTrial: () => false,
      acceptedWhere: () => (written ? 'etc' : undefined),
      writeAccepted: (_u, settings) => {
        unit.accepted = [...settings];
        written = settings.length ? renderDropIn(unit.name, settings, 'accepted') : undefined;
        return written ? `/etc/systemd/system/${unit.name}.d/zz-autoharden-50-accepted.conf` : undefined;
      },
      readAccepted: () => written,
    },
    platform: async () => DEBIAN12_PLATFORM,
    probe: async () => [],
    unitLogsSince: async () => unit.logs.splice(0),
    observe: async () => { throw new Error('not simulated'); },
    logOffsets: () => ({}),
    logLinesSince: () => [],
    isDirectory: () => false,
    runWorkload: async () => { throw new Error('not simulated'); },
    recentLogs: async () => [],
    exposure: async () => 5,
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
    now: () => new Date(),
    fault: () => {},
    progress: () => {},
  };
}

/** Journal a tune that accepted `settings`, in that order, and put them in force. */
export function tuned(ports: ReturnType<typeof simPorts>, unit: SimUnit, settings: Setting[]): void {
  ports.journal.append({ kind: 'tune-begin', strategy: 'one-at-a-time', probes: [], exposure: 9.6 });
  settings.forEach((s, i) => {
    ports.journal.append({ kind: 'trial-begin', trial: i + 1, settings: [s] });
    ports.journal.append({ kind: 'trial-end', trial: i + 1, settings: [s], outcome: 'accepted', verdict: 'ok', reason: 'ok', evidence: [] });
  });
  ports.journal.append({ kind: 'tune-end', exposureBefore: 9.6, exposureAfter: 3, trials: settings.length, restarts: settings.length, durationMs: 1 });
  ports.dropins.writeAccepted(unit.name, settings, 'etc');
}

// ---- daemon stand-ins ---------------------------------------------------------------------------

type TuneOptions = Parameters<NonNullable<DaemonDeps['newSession']>>[1];
type TuneReport = Awaited<ReturnType<Session['finish']>>;

/** A SimUnit per unit name, made on first use. */
export function simUnits(): { units: Map<string, SimUnit>; unitOf(unit: string): SimUnit } {
  const units = new Map<string, SimUnit>();
  return { units, unitOf: (u) => units.get(u) ?? units.set(u, new SimUnit(u)).get(u)! };
}

/** The daemon's systemd, answering from SimUnits; `info` overrides what unitInfo reports. */
export function simSystemd(unitOf: (unit: string) => SimUnit, info: (unit: string) => Partial<UnitInfo> = () => ({})): DaemonDeps['systemd'] {
  return {
    version: async () => 252,
    unitInfo: async (u) => ({ loadState: 'loaded', activeState: 'active', subState: 'running', fragmentPath: '', dropInPaths: [], needDaemonReload: false, type: 'simple', ...info(u) }),
    snapshot: async (u) => ({ ...unitOf(u).snap }),
    serviceProperties: async () => ({}),
    reload: async () => {},
    resetFailed: async () => {},
    restart: async (u) => unitOf(u).start(),
    watchUnit: async () => {},
    unwatchUnit: async () => {},
  };
}

/** Daemon dependencies on a state directory, quiet and permissive; `over` replaces any of them. */
export function daemonDeps(stateDir: string, over: Partial<DaemonDeps> & Pick<DaemonDeps, 'systemd' | 'portsFor'>): DaemonDeps {
  return {
    stateDir,
    catalog: CATALOG,
    store: new EnrollmentStore(stateDir),
    journal: (u) => journalFor(stateDir, u),
    lock: (u, id) => lockUnit(stateDir, u, id || u),
    journaledUnits: () => [],
    follow: () => {},
    followFiles: () => {},
    knownErrors: async () => new Set(),
    logsSince: async () => [],
    exposure: async () => 3,
    signals: { progress: () => {}, trialFinished: () => {}, alert: () => {} },
    checkSandbox: async () => ({ setUp: true, reason: 'not checked in this test' }),
    log: { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} },
    ...over,
  };
}

export interface StubHooks {
  /** Before begin() journals tune-begin; throw to fail the begin. */
  begin?(): unknown;
  /** After begin() journaled tune-begin. */
  begun?(): unknown;
  /** One step; true while there is more to do. Default: done at once. */
  step?(report: TuneReport): Promise<boolean>;
  /** After finish() journaled tune-end. */
  finished?(): unknown;
}

/** A stand-in tune session: journals tune-begin (unless resuming) and tune-end, steps as told. */
export function stubSession(ports: Ports, o: TuneOptions, hooks: StubHooks = {}): Session {
  const report: TuneReport = { unit: o.unit, exposureBefore: 9.6, exposureAfter: 3, trials: 0, restarts: 0, durationMs: 1, accepted: [], rejected: [], skipped: [], warnings: [], complete: true };
  return {
    report,
    begin: async () => {
      await hooks.begin?.();
      if (!o.resume) ports.journal.append({ kind: 'tune-begin', strategy: o.strategy, probes: [], exposure: 9.6 });
      await hooks.begun?.();
    },
    step: async () => (hooks.step ? hooks.step(report) : false),
    finish: async () => {
      ports.journal.append({ kind: 'tune-end', exposureBefore: 9.6, exposureAfter: 3, trials: report.trials, restarts: report.trials, durationMs: 1 });
      await hooks.finished?.();
      return report;
    },
  };
}

/** Poll until `pred` holds; throws after `ms`. */
export async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
