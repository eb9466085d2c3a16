// One builder of the engine's Ports for unit tests: a healthy, idle unit by default, an in-memory
// drop-in store, a real journal in a temporary directory, and a virtual clock whose sleep advances
// time at once, so that settle periods cost no wall time. Tests override what their service does.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalStore } from '../../src/adapters/journalStore.js';
import { renderDropIn } from '../../src/core/dropin.js';
import type { UnitObservation } from '../../src/core/observe.js';
import type { Setting, UnitSnapshot } from '../../src/core/types.js';
import type { DropInPort, Ports, SystemdPort } from '../../src/engine/ports.js';
import { DEBIAN12_PLATFORM } from './platforms.js';

/** Time that passes only when the code under test sleeps. */
export class VirtualClock {
  constructor(public ms = Date.now()) {}

  now(): Date {
    return new Date(this.ms);
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.ms += Math.max(0, ms);
    await Promise.resolve(); // still a turn of the event loop's microtasks, as a timer would be
  }
}

export const EMPTY_OBSERVATION = {
  mainPid: 10, pids: [10], processes: [], inet: [], unix: [], netlink: [], packet: [], otherSockets: [], writablePaths: [], warnings: [],
} as unknown as UnitObservation;

export const RUNNING: UnitSnapshot = {
  activeState: 'active', subState: 'running', result: 'success', invocationId: 'i0', nRestarts: 0, mainPid: 10, execMainCode: 0, execMainStatus: 0,
};

/** Drop-ins kept in memory: the trial file and the accepted set as written. */
export function memoryDropIns(unit: string): DropInPort & { trial: Setting[]; accepted: Setting[] } {
  const d = {
    trial: [] as Setting[],
    accepted: [] as Setting[],
    writeTrial: (_u: string, s: readonly Setting[]) => ((d.trial = [...s]), ''),
    removeTrial: () => ((d.trial = []), true),
    hasTrial: () => d.trial.length > 0,
    acceptedWhere: () => (d.accepted.length ? ('run' as const) : undefined),
    writeAccepted: (_u: string, s: readonly Setting[]) => ((d.accepted = [...s]), undefined),
    readAccepted: () => (d.accepted.length ? renderDropIn(unit, d.accepted, 'accepted') : undefined),
  };
  return d;
}

export type PortsOverrides = Partial<Omit<Ports, 'systemd' | 'dropins'>> & {
  systemd?: Partial<SystemdPort>;
  dropins?: DropInPort;
};

export function fakePorts(unit: string, over: PortsOverrides = {}): Ports & { clock: VirtualClock } {
  const clock = new VirtualClock();
  const { systemd, dropins, ...rest } = over;
  return {
    clock,
    systemd: {
      version: async () => 252,
      unitInfo: async () => ({ loadState: 'loaded', activeState: 'active', subState: 'running', fragmentPath: '', dropInPaths: [], needDaemonReload: false, type: 'simple' }),
      snapshot: async () => ({ ...RUNNING }),
      serviceProperties: async () => ({}),
      reload: async () => {},
      resetFailed: async () => {},
      restart: async () => 'done',
      ...systemd,
    },
    journal: new JournalStore(mkdtempSync(join(tmpdir(), 'ah-ports-')), unit),
    dropins: dropins ?? memoryDropIns(unit),
    // Debian 12: systemd 252 (-BPF_FRAMEWORK), kernel 6.1, no securityfs
    platform: async () => DEBIAN12_PLATFORM,
    probe: async () => [],
    unitLogsSince: async () => [],
    observe: async () => ({
      facts: { usesInet: false, inetEndpoints: [], nonLoopbackListeners: [], families: [], peers: [], sessionEvidence: [], createdModes: [], writableDirs: [] },
      logFiles: [],
      observation: EMPTY_OBSERVATION,
    }),
    logOffsets: () => ({}),
    logLinesSince: () => [],
    isDirectory: () => false,
    runWorkload: async () => 1,
    recentLogs: async () => [],
    exposure: async () => 0,
    sleep: (ms, signal) => clock.sleep(ms, signal),
    now: () => clock.now(),
    fault: () => {},
    progress: () => {},
    ...rest,
  };
}
