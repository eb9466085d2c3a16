// Glue between systemd and /proc: observe a running service (read its processes, stat the paths
// it holds). What the observation means for the policy is decided in core/observe.ts.
import { readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { capsNeeded, startIdentity } from '../core/capsObserved.js';
import { execDirsOf, observedFacts, pathsToStat, type PathMode, type UnitObservation } from '../core/observe.js';
import type { SafetyFacts } from '../core/policy.js';
import type { SystemdPort } from '../engine/ports.js';
import { managerSockets, observeUnit, unprivilegedPortStart } from './procfs.js';
import { execBinaries } from './unitIdentity.js';

export interface Observed {
  facts: SafetyFacts;
  /** Log files the unit writes (held open for writing): read for new errors during trials. */
  logFiles: string[];
  observation: UnitObservation;
}

/** Where a file really is (merged /usr: /lib/x → /usr/lib/x); a vanished file by its directory. */
function realFile(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return undefined;
    }
  }
}

function modeOf(path: string): PathMode | undefined {
  try {
    const st = statSync(path);
    return { path, mode: st.mode & 0o777, file: st.isFile(), socket: st.isSocket() };
  } catch {
    return undefined;
  }
}

export async function observeService(systemd: SystemdPort, unit: string): Promise<Observed> {
  const snap = await systemd.snapshot(unit);
  const props = await systemd.serviceProperties(unit, ['ControlGroup', 'User', 'Group', 'DynamicUser']);
  const cgroup = typeof props.ControlGroup === 'string' ? props.ControlGroup : '';
  let exe = '';
  try {
    exe = basename(readlinkSync(`/proc/${snap.mainPid}/exe`));
  } catch {
    /* gone or kernel thread */
  }
  const obs = await observeUnit(snap.mainPid, cgroup, { sessions: { unitName: unit, execStartBinary: exe } });
  const { written, sockets } = pathsToStat(obs);
  const modes = new Map<string, PathMode>();
  for (const p of [...written, ...sockets]) {
    const m = modeOf(p);
    if (m) modes.set(p, m);
  }
  const execDirs = obs.execFiles ? execDirsOf([...obs.execFiles, ...(await execBinaries(systemd, unit))], realFile) : undefined;
  const { facts, logFiles } = observedFacts(obs, exe, modes, { execDirs });
  const caps = capsNeeded(obs, { start: startIdentity(props), unprivilegedPortStart: unprivilegedPortStart(), managerSockets: await managerSockets() });
  return { facts: caps ? { ...facts, capsNeeded: caps } : facts, logFiles, observation: obs };
}
