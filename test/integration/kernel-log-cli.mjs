// Reads seccomp records from the kernel log inside a box (used by kernel-log.test.ts):
//   node kernel-log-cli.mjs mark                 the last sequence number now
//   node kernel-log-cli.mjs since MARK EXE...    the window's records, those of EXE..., their groups
// Needs the adapter compiled into dist/ (the test does that first).
import { execFileSync } from 'node:child_process';
import { openKernelLog } from '../../dist/adapters/kernelLog.js';
import { forUnit, groupsUsed } from '../../dist/core/seccompLog.js';
import { parseSyscallFilterListing } from '../../dist/core/syscallGroups.js';

const log = openKernelLog();
if ('unavailable' in log) {
  console.log(JSON.stringify({ unavailable: log.unavailable }));
  process.exit(0);
}
const [cmd, mark, ...exes] = process.argv.slice(2);
if (cmd === 'mark') {
  console.log(JSON.stringify({ mark: log.mark(), actionsLogged: log.actionsLogged }));
} else {
  const window = log.scan(Number(mark));
  const mine = forUnit(window.records, { exes });
  // the groups of the systemd in the box, as the engine would use them
  const groups = parseSyscallFilterListing(execFileSync('systemd-analyze', ['syscall-filter'], { encoding: 'utf8' }));
  console.log(JSON.stringify({ all: window.records, records: mine, used: groupsUsed(mine, groups ?? {}), incomplete: window.incomplete, lastSeq: window.lastSeq }));
}
