// The composition root: the one place that builds adapters and hands them to the engine (the
// state directory's in compose/state.ts, the daemon's in compose/daemon.ts).
import { statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { exposure, exposureRows } from './adapters/analyze.js';
export { exposure } from './adapters/analyze.js';
import { DropIns, SYSTEM_DIRS } from './adapters/dropins.js';
import { ACCEPTED_FILE, TRIAL_FILE, renderDropIn } from './core/dropin.js';
import { acceptedSet, unfinishedTrial } from './core/journal.js';
import type { SyscallGroups } from './core/syscallGroups.js';
import type { JournalStore } from './adapters/journalStore.js';
import { journalFor } from './compose/state.js';
import { runProbes } from './adapters/probes.js';
import { Systemd } from './adapters/systemd.js';
import { linesSince, logOffsets, tails } from './adapters/logFiles.js';
import { observeService } from './adapters/observeService.js';
import { readResolvedSyscallGroups } from './adapters/syscallGroups.js';
import { readPlatform } from './adapters/platform.js';
import { withEnforcement } from './adapters/bpfCheck.js';
import { RuntimeUnitFiles } from './adapters/unitFiles.js';
import { runWorkload } from './adapters/workload.js';
import { openKernelLog } from './adapters/kernelLog.js';
import { unitIdentity } from './adapters/unitIdentity.js';
import { changedSince, realDir } from './adapters/writes.js';
import { recentUnitLogs, unitLogsSince } from './adapters/unitLogs.js';
import { FAULT_STEPS, type FaultStep, type Ports, type ProgressEvent, type SystemdPort } from './engine/ports.js';

export { DEFAULT_STATE_DIR, journalFor } from './compose/state.js';

export interface Wiring {
  stateDir: string;
  progress: (e: ProgressEvent) => void;
  probeTimeoutMs?: number;
  /** The running systemd's system call groups; default: read them (once per tune). The daemon
   * reads them once per start. */
  syscallGroups?: () => Promise<SyscallGroups | undefined>;
}

/** AUTOHARDEN_FAULT=STEP[:N[:SIGNAL]] sends this process SIGNAL (default SIGKILL) the Nth time
 * this unit's work reaches STEP (default the first; during-settle is reached once per settle
 * sample; FAULT_STEPS names them all): crash tests need a death at a named step, and signal tests a
 * signal there, not a sleep. An unknown STEP is refused: a typo would never fire. */
function faultFromEnv(): (step: FaultStep) => void {
  const spec = process.env.AUTOHARDEN_FAULT;
  if (!spec) return () => {};
  const [want, nth = '1', sig = 'SIGKILL'] = spec.split(':');
  if (!(FAULT_STEPS as readonly string[]).includes(want ?? '')) throw new Error(`AUTOHARDEN_FAULT: unknown step ${want}`);
  if (!Object.hasOwn(osConstants.signals, sig)) throw new Error(`AUTOHARDEN_FAULT: unknown signal ${sig}`);
  let seen = 0;
  return (step) => {
    if (step === want && ++seen === Number(nth)) process.kill(process.pid, sig as NodeJS.Signals);
  };
}

/** The texts the journal says autoharden wrote into a drop-in: the accepted set, and the trial
 * under way. Lets drop-ins written before the write registry existed be recognised as ours. */
function journalSays(journal: JournalStore, unit: string, file: string): string[] {
  try {
    const records = journal.read();
    if (file === ACCEPTED_FILE) return [renderDropIn(unit, acceptedSet(records), 'accepted')];
    const open = unfinishedTrial(records);
    if (file === TRIAL_FILE && open) return [renderDropIn(unit, open.settings, 'trial')];
  } catch {
    /* a corrupt journal vouches for nothing */
  }
  return [];
}

export function buildPorts(systemd: SystemdPort, unit: string, w: Wiring): Ports {
  // A log file skipped as unsafe (FIFO, symlink) is said once, not on every trial.
  const warned = new Set<string>();
  const warn = (message: string): void => {
    if (warned.has(message)) return;
    warned.add(message);
    w.progress({ type: 'info', message: `${unit}: ${message}` });
  };
  const journal = journalFor(w.stateDir, unit);
  return {
    systemd,
    journal,
    dropins: new DropIns(w.stateDir, SYSTEM_DIRS, (u, file) => journalSays(journal, u, file)),
    probe: (specs, opts) => runProbes(specs, opts?.timeoutMs ?? w.probeTimeoutMs, opts?.signal),
    unitLogsSince,
    // with what a check unit showed of the settings systemd reports whether or not it enforces them
    platform: async (u) => withEnforcement(await readPlatform(systemd, u), systemd, new RuntimeUnitFiles()),
    syscallGroups: w.syscallGroups ?? (() => readResolvedSyscallGroups(systemd, new RuntimeUnitFiles())),
    exposureRows,
    observe: (u) => observeService(systemd, u),
    kernelLog: () => openKernelLog(),
    unitIdentity: (u) => unitIdentity(systemd, u),
    logOffsets: (files) => logOffsets(files, warn),
    runWorkload: (spec, timeoutMs) => runWorkload(spec, timeoutMs),
    isDirectory: (p) => {
      try {
        return statSync(p).isDirectory();
      } catch {
        return false;
      }
    },
    realDir,
    changedSince: (dir, since) => changedSince(dir, since),
    logLinesSince: (offsets) => linesSince(offsets, warn),
    recentLogs: async (u, files) => [...(await recentUnitLogs(u)), ...tails(files, undefined, warn)],
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
