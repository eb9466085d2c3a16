// The composition root: the one place that builds adapters and hands them to the engine.
import { statSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { exposure } from './adapters/analyze.js';
import { DropIns } from './adapters/dropins.js';
import { JournalStore } from './adapters/journalStore.js';
import { runProbes } from './adapters/probes.js';
import { Systemd } from './adapters/systemd.js';
import { linesSince, logOffsets, tails } from './adapters/logFiles.js';
import { observeService } from './adapters/observeService.js';
import { runWorkload } from './adapters/workload.js';
import { recentUnitLogs, unitLogsSince } from './adapters/unitLogs.js';
import type { FaultStep, Ports, ProgressEvent, SystemdPort } from './engine/ports.js';

export const DEFAULT_STATE_DIR = '/var/lib/autoharden';

export interface Wiring {
  stateDir: string;
  progress: (e: ProgressEvent) => void;
  probeTimeoutMs?: number;
}

export function journalFor(stateDir: string, unit: string): JournalStore {
  return new JournalStore(stateDir, unit);
}

/** AUTOHARDEN_FAULT=STEP[:N] kills this process with SIGKILL the Nth time a trial reaches STEP
 * (default the first; during-settle is reached once per settle sample): crash tests need a death
 * at a named step, not a sleep. */
function faultFromEnv(): (step: FaultStep) => void {
  const spec = process.env.AUTOHARDEN_FAULT;
  if (!spec) return () => {};
  const [want, nth = '1'] = spec.split(':');
  let seen = 0;
  return (step) => {
    if (step === want && ++seen === Number(nth)) process.kill(process.pid, 'SIGKILL');
  };
}

export function buildPorts(systemd: SystemdPort, unit: string, w: Wiring): Ports {
  return {
    systemd,
    journal: journalFor(w.stateDir, unit),
    dropins: new DropIns(),
    probe: (specs) => runProbes(specs, w.probeTimeoutMs),
    unitLogsSince,
    observe: (u) => observeService(systemd, u),
    logOffsets,
    runWorkload: (spec, timeoutMs) => runWorkload(spec, timeoutMs),
    isDirectory: (p) => {
      try {
        return statSync(p).isDirectory();
      } catch {
        return false;
      }
    },
    logLinesSince: linesSince,
    recentLogs: async (u, files) => [...(await recentUnitLogs(u)), ...tails(files)],
    exposure,
    sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : undefined),
    now: () => new Date(),
    progress: w.progress,
    fault: faultFromEnv(),
  };
}

export async function connectSystemd(): Promise<Systemd> {
  return Systemd.connect();
}
