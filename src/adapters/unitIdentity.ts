// Who a unit's processes are, for attributing kernel records to it (core/seccompLog.ts forUnit):
// the pids in its cgroup now and the executables they run, plus the interpreters of its ExecStart
// scripts (a control process like pg_ctlcluster is gone after start; the kernel names its exe,
// /usr/bin/perl). Read-only, bounded, and never a decision by itself.
import { closeSync, openSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import type { SystemdPort } from '../engine/ports.js';
import { cgroupDir, cgroupPids } from './procfs.js';

export interface UnitIdentity {
  pids: number[];
  exes: string[];
}

const MAX_PIDS = 4096;
const EXEC_LINE = /^\s*Exec(?:Start|StartPre|StartPost|Reload)\s*=\s*[-@:+!]*(\/\S+)/gm;
/** Every command systemd runs for the unit, stop and condition ones too (ExecPaths=). */
const ANY_EXEC_LINE = /^\s*Exec(?:Condition|Start|StartPre|StartPost|Reload|Stop|StopPost)\s*=\s*[-@:+!|]*(\/\S+)/gm;

/** The interpreter a script names on its #! line, or undefined for a binary. */
function interpreter(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const head = buf.subarray(0, n).toString('latin1');
    const m = /^#!\s*(\/\S+)(?:\s+(\S+))?/.exec(head);
    if (!m) return undefined;
    // "#!/usr/bin/env perl": the kernel names the program env ran, not env; unknown here
    return m[1]!.endsWith('/env') ? undefined : m[1];
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export async function unitIdentity(systemd: SystemdPort, unit: string): Promise<UnitIdentity> {
  const props = await systemd.serviceProperties(unit, ['ControlGroup']).catch(() => ({}) as Record<string, unknown>);
  const cg = typeof props.ControlGroup === 'string' ? props.ControlGroup : '';
  const dir = cg ? cgroupDir(cg, undefined) : undefined;
  const pids = dir ? (await cgroupPids(dir)).slice(0, MAX_PIDS) : [];
  const exes = new Set<string>();
  for (const pid of pids) {
    try {
      exes.add(readlinkSync(`/proc/${pid}/exe`));
    } catch {
      /* gone, or a kernel thread */
    }
  }
  try {
    const { fragmentPath } = await systemd.unitInfo(unit);
    const text = fragmentPath ? readFileSync(fragmentPath, 'utf8').slice(0, 65_536) : '';
    for (const m of text.matchAll(EXEC_LINE)) {
      exes.add(m[1]!);
      const i = interpreter(m[1]!);
      if (i) exes.add(i);
    }
  } catch {
    /* no fragment to read: the running processes are what there is */
  }
  return { pids, exes: [...exes].sort() };
}

/** The binaries of the unit's Exec*= lines (fragment and drop-ins, absolute ones only) and the
 * interpreters their scripts name: where systemd runs code from besides what is running now. */
export async function execBinaries(systemd: SystemdPort, unit: string): Promise<string[]> {
  const out = new Set<string>();
  try {
    const { fragmentPath, dropInPaths } = await systemd.unitInfo(unit);
    for (const file of [fragmentPath, ...dropInPaths].filter(Boolean)) {
      let text = '';
      try {
        text = readFileSync(file, 'utf8').slice(0, 65_536);
      } catch {
        continue;
      }
      for (const m of text.matchAll(ANY_EXEC_LINE)) {
        out.add(m[1]!);
        const i = interpreter(m[1]!);
        if (i) out.add(i);
      }
    }
  } catch {
    /* no unit files to read: the running processes are what there is */
  }
  return [...out].sort();
}
