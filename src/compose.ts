// The composition root: the one place that builds adapters and hands them to the engine.
import { setTimeout as delay } from 'node:timers/promises';
import { exposure } from './adapters/analyze.js';
import { DropIns } from './adapters/dropins.js';
import { JournalStore } from './adapters/journalStore.js';
import { runProbes } from './adapters/probes.js';
import { Systemd } from './adapters/systemd.js';
import { linesSince, logOffsets, tails } from './adapters/logFiles.js';
import { observeService } from './adapters/observeService.js';
import { recentUnitLogs, unitLogsSince } from './adapters/unitLogs.js';
import type { Ports, ProgressEvent } from './engine/ports.js';

export const DEFAULT_STATE_DIR = '/var/lib/autoharden';

export interface Wiring {
  stateDir: string;
  progress: (e: ProgressEvent) => void;
  probeTimeoutMs?: number;
}

export function journalFor(stateDir: string, unit: string): JournalStore {
  return new JournalStore(stateDir, unit);
}

export function buildPorts(systemd: Systemd, unit: string, w: Wiring): Ports {
  return {
    systemd,
    journal: journalFor(w.stateDir, unit),
    dropins: new DropIns(),
    probe: (specs) => runProbes(specs, w.probeTimeoutMs),
    unitLogsSince,
    observe: (u) => observeService(systemd, u),
    logOffsets,
    logLinesSince: linesSince,
    recentLogs: async (u, files) => [...(await recentUnitLogs(u)), ...tails(files)],
    exposure,
    sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : undefined),
    now: () => new Date(),
    progress: w.progress,
  };
}

export async function connectSystemd(): Promise<Systemd> {
  return Systemd.connect();
}
