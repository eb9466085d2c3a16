// The running systemd's system call groups, as its own `systemd-analyze syscall-filter` lists them
// (--quiet: the groups only, no kernel list). Bounded: a timeout, and output beyond the cap is
// not read; parsing is the core's (core/syscallGroups.ts). Undefined when anything is off.
import { parseSyscallFilterListing, type SyscallGroups } from '../core/syscallGroups.js';
import { run } from './exec.js';

const TIMEOUT_MS = 10_000;
/** 252–262 print about 25 KiB. */
const MAX_BYTES = 1 << 20;

export async function readSyscallGroups(): Promise<SyscallGroups | undefined> {
  const r = await run('systemd-analyze', ['--quiet', '--no-pager', 'syscall-filter'], { LANG: 'C.UTF-8', SYSTEMD_COLORS: '0' }, TIMEOUT_MS, MAX_BYTES);
  return r.code === 0 ? parseSyscallFilterListing(r.stdout) : undefined;
}
