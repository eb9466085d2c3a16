// Seccomp records from the kernel log in a real systemd (scripts/box.sh): a unit with
// SystemCallLog=@privileged that makes a privileged call and keeps running, a unit with
// SystemCallFilter=~@privileged killed by SIGSYS for one, and a record forged by writing to
// /dev/kmsg as root. The reading runs inside the box (its pid namespace: the records carry the
// machine's pids, so units are found by executable) through kernel-log-cli.mjs and dist/.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupUse, SeccompRecord } from '../../src/core/seccompLog.js';
import { startBox, type Box } from '../harness/box.js';

const root = join(import.meta.dirname, '..', '..');
const CLI = '/run/autoharden-src/test/integration/kernel-log-cli.mjs';
const canBox = process.getuid?.() === 0 && existsSync('/lib/systemd/systemd') && existsSync('/dev/kmsg');
// Audit output reaches the kernel log through printk_ratelimit(): 10 records per 5 s for the whole
// machine, which other boxes' seccomp kills use up. Raised while this file runs, restored after.
const BURST = '/proc/sys/kernel/printk_ratelimit_burst';
/** Unique per run: the ring keeps the forged lines of earlier runs. */
const FORGED_COMM = `kslf${randomBytes(4).toString('hex')}`;

interface Window {
  all: SeccompRecord[];
  records: SeccompRecord[];
  used: GroupUse[];
  incomplete: string[];
}

describe.skipIf(!canBox)('seccomp records from the kernel log', () => {
  let box: Box;
  let w: Window;
  let forgedInRing = '';
  let boxPid = 0;
  let burst: string | undefined;

  beforeAll(async () => {
    // Only the adapter and what the script imports: the rest of the project may not compile now.
    execFileSync('npx', ['tsc', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--lib', 'ES2022',
      '--types', 'node', '--strict', '--noUncheckedIndexedAccess', '--skipLibCheck', '--rootDir', 'src', '--outDir', 'dist',
      'src/adapters/kernelLog.ts', 'src/core/syscallGroups.ts'], { cwd: root, stdio: 'inherit' });
    burst = readFileSync(BURST, 'utf8').trim();
    writeFileSync(BURST, '1000');
    box = await startBox('ksl-kmsg');
    const opened = JSON.parse(await box.check(['node', CLI, 'mark']));
    expect(opened.unavailable).toBeUndefined();
    expect(opened.actionsLogged).toContain('log');
    const mark: number = opened.mark;

    // Logged, not denied: setpriv switches its uid (setresuid, @privileged) and exits 0.
    // sh records its pid as the box sees it, then becomes setpriv (same process); systemd makes "$$$$" "$$".
    const logged = await box.exec(['systemd-run', '--quiet', '--wait', '--collect', '--unit=ksl-log', '-p', 'SystemCallLog=@privileged',
      '/bin/sh', '-c', 'echo $$$$ > /tmp/ksl-pid && exec /usr/bin/setpriv --reuid=nobody --regid=nogroup --clear-groups /bin/true']);
    expect(logged.code, logged.stderr).toBe(0);
    boxPid = Number(await box.check('cat /tmp/ksl-pid'));
    // Denied: chown is killed by SIGSYS on its first @privileged call.
    await box.check('touch /tmp/ksl-file');
    const killed = await box.exec(['systemd-run', '--quiet', '--wait', '--collect', '--unit=ksl-kill',
      '-p', 'SystemCallFilter=~@privileged', '/usr/bin/chown', 'nobody', '/tmp/ksl-file']);
    expect(killed.code).not.toBe(0);
    // Forged by root through /dev/kmsg, one with a kernel priority prefix, one without.
    const forged = 'audit: type=1326 audit(1700000000.000:1): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=999999 ' +
      `comm="${FORGED_COMM}" exe="/usr/bin/chown" sig=31 arch=c000003e syscall=105 compat=0 ip=0x1 code=0x80000000`;
    await box.check(`printf '%s\\n' '<5>${forged}' > /dev/kmsg && printf '%s\\n' '${forged}' > /dev/kmsg`);
    forgedInRing = await box.check(`dmesg --decode | grep ${FORGED_COMM} || true`);

    w = JSON.parse(await box.check(['node', CLI, 'since', String(mark), '/usr/bin/setpriv', '/usr/bin/chown']));
  });

  afterAll(async () => {
    try {
      await box?.stop();
    } finally {
      if (burst) writeFileSync(BURST, burst);
    }
  });

  it('finds the logged calls of the SystemCallLog= unit by executable, in @privileged', () => {
    const logs = w.records.filter((r) => r.exe === '/usr/bin/setpriv');
    expect(logs.length, `incomplete: ${w.incomplete.join('; ')}`).toBeGreaterThan(0);
    for (const r of logs) {
      expect(r.action).toBe('log');
      expect(r.signal).toBe(0);
      expect(r.arch).toBe('c000003e');
    }
    expect(logs.map((r) => r.syscall)).toEqual(expect.arrayContaining(['setgroups']));
    const privileged = w.used.find((u) => u.group === 'privileged');
    expect(privileged?.by).toContain('/usr/bin/setpriv');
    expect(privileged?.calls).toEqual(expect.arrayContaining(['setgroups']));
    expect(privileged?.calls.some((c) => /^setres?uid$|^setreuid$/.test(c))).toBe(true);
  });

  it('finds the call the filter killed the other unit for', () => {
    const kills = w.records.filter((r) => r.exe === '/usr/bin/chown');
    expect(kills, `incomplete: ${w.incomplete.join('; ')}`).toHaveLength(1);
    expect(kills[0]).toMatchObject({ action: 'kill-process', signal: 31, comm: 'chown', syscall: 'fchownat' });
    expect(w.used.find((u) => u.group === 'chown')).toMatchObject({ calls: expect.arrayContaining(['fchownat']), by: expect.arrayContaining(['/usr/bin/chown']) });
  });

  it('carries the machine\'s pid, not the one the box sees', () => {
    const logs = w.records.filter((r) => r.exe === '/usr/bin/setpriv');
    expect(boxPid).toBeGreaterThan(1);
    expect(logs.length).toBeGreaterThan(0);
    expect(new Set(logs.map((r) => r.pid)).size).toBe(1);
    expect(logs[0]!.pid).not.toBe(boxPid);
  });

  it('ignores the records root wrote to /dev/kmsg, though they are in the ring', () => {
    // both forged lines reached the ring, with the user facility whatever "<5>" claimed
    expect(forgedInRing.split('\n').filter((l) => l.includes(FORGED_COMM))).toEqual([expect.stringMatching(/^user\s*:notice:/), expect.stringMatching(/^user\s*:/)]);
    expect(w.all.some((r) => r.comm === FORGED_COMM || r.pid === 999999)).toBe(false);
  });
});
