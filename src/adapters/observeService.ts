// Glue between systemd and /proc: observe a running service and turn what it holds into the
// facts the safety policy and the log check need.
import { readlinkSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import {
  familiesInUse, formatEndpoint, nonLoopbackListeners, peers, sessionEvidence, sessionsStayInUnit, usesInet, type UnitObservation,
} from '../core/observe.js';
import { isRequestLog } from '../core/logcheck.js';
import type { SafetyFacts } from '../core/policy.js';
import type { SystemdPort } from '../engine/ports.js';
import { observeUnit } from './procfs.js';

export interface Observed {
  facts: SafetyFacts;
  /** Log files the unit writes (held open for writing): read for new errors during trials. */
  logFiles: string[];
  observation: UnitObservation;
}

function modeOf(path: string): { path: string; mode: number; file: boolean; socket: boolean } | undefined {
  try {
    const st = statSync(path);
    return { path, mode: st.mode & 0o777, file: st.isFile(), socket: st.isSocket() };
  } catch {
    return undefined;
  }
}

export async function observeService(systemd: SystemdPort, unit: string): Promise<Observed> {
  const snap = await systemd.snapshot(unit);
  const props = await systemd.serviceProperties(unit, ['ControlGroup']);
  const cgroup = typeof props.ControlGroup === 'string' ? props.ControlGroup : '';
  let exe = '';
  try {
    exe = basename(readlinkSync(`/proc/${snap.mainPid}/exe`));
  } catch {
    /* gone or kernel thread */
  }
  const obs = await observeUnit(snap.mainPid, cgroup, { sessions: { unitName: unit, execStartBinary: exe } });
  const written = obs.writablePaths.map(modeOf).filter((m) => m !== undefined);
  const sockets = obs.unix.filter((u) => u.listening && u.path.startsWith('/')).map((u) => modeOf(u.path)).filter((m) => m !== undefined);
  const created = [...written.filter((m) => m.file), ...sockets.filter((m) => m.socket)];
  const facts: SafetyFacts = {
    usesInet: usesInet(obs),
    inetEndpoints: obs.inet.map((s) => `${s.proto} ${formatEndpoint(s.local)}`),
    nonLoopbackListeners: nonLoopbackListeners(obs).map((s) => formatEndpoint(s.local)),
    families: familiesInUse(obs),
    peers: peers(obs),
    sessionEvidence: obs.sessions ? sessionEvidence(obs.sessions) : [],
    sessionsStayInUnit: obs.sessions ? sessionsStayInUnit(obs.sessions) : false,
    createdModes: created.map(({ path, mode }) => ({ path, mode })),
    uids: [...new Set(obs.processes.map((p) => p.uid))].sort((a, b) => a - b),
    commands: [...new Set([exe, ...obs.processes.map((p) => p.name)].filter(Boolean))],
    writableDirs: [...new Set(written.filter((m) => m.file).map((m) => dirname(m.path)))].sort(),
  };
  // Request logs are clients' text, never evidence (core/logcheck isRequestLog).
  const logFiles = written
    .filter((m) => m.file && (m.path.startsWith('/var/log/') || m.path.endsWith('.log')) && !isRequestLog(m.path))
    .map((m) => m.path);
  return { facts, logFiles, observation: obs };
}
