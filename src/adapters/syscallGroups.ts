// The running systemd's system call groups, as its own `systemd-analyze syscall-filter` lists them
// (--quiet: the groups only, no kernel list). Bounded: a timeout, and output beyond the cap is
// not read; parsing is the core's (core/syscallGroups.ts). Undefined when anything is off.
// With systemd at hand, the members its libseccomp cannot resolve are dropped (a check unit that
// is loaded and read back, never started), so a filter's read-back can match them.
import { MARKER } from '../core/dropin.js';
import { CHECK_UNIT_PREFIX } from '../core/sandboxCheck.js';
import { onlyResolved, parseSyscallFilterListing, renderResolvableCheck, resolvedNames, type SyscallGroups } from '../core/syscallGroups.js';
import type { SystemdPort } from '../engine/ports.js';
import type { UnitFilePort } from '../engine/sandboxCheck.js';
import { run } from './exec.js';

const TIMEOUT_MS = 10_000;
/** 252–262 print about 25 KiB. */
const MAX_BYTES = 1 << 20;

export async function readSyscallGroups(): Promise<SyscallGroups | undefined> {
  const r = await run('systemd-analyze', ['--quiet', '--no-pager', 'syscall-filter'], { LANG: 'C.UTF-8', SYSTEMD_COLORS: '0' }, TIMEOUT_MS, MAX_BYTES);
  return r.code === 0 ? parseSyscallFilterListing(r.stdout) : undefined;
}

/** The groups as above, less the calls this systemd cannot put in a filter; when the check cannot
 * be made, the groups as listed. */
export async function readResolvedSyscallGroups(systemd: SystemdPort, files: UnitFilePort): Promise<SyscallGroups | undefined> {
  const groups = await readSyscallGroups();
  if (!groups) return undefined;
  const name = `${CHECK_UNIT_PREFIX}scf-${process.pid}.service`;
  let written = false;
  try {
    files.write(name, renderResolvableCheck(groups, MARKER));
    written = true;
    await systemd.reload();
    const eff = await systemd.serviceProperties(name, ['SystemCallFilter']);
    return onlyResolved(groups, resolvedNames(eff.SystemCallFilter));
  } catch {
    return groups;
  } finally {
    if (written) {
      try {
        files.remove(name);
      } catch {
        /* ours (marker): the next write replaces it */
      }
      await systemd.reload().catch(() => undefined);
    }
  }
}
