// observeUnit/observeSessions against a real systemd in a box (scripts/box.sh): nginx listens on
// 0.0.0.0:80 and [::]:80, memcached on 127.0.0.1:11211 only, and a unit whose child moves into a
// session scope with its own login UID. The observation runs inside the box (its pid namespace),
// through observe-cli.mjs and the adapter compiled into dist/; one check runs from the host to
// show the socket tables come from the unit's network namespace, not the reader's.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observeUnit } from '../../src/adapters/procfs.js';
import { formatEndpoint, listensOnNonLoopback, nonLoopbackListeners } from '../../src/core/observe.js';

const root = join(import.meta.dirname, '..', '..');
const BOX = 'obs1';
const box = (...args: string[]) => execFileSync('bash', [join(root, 'scripts/box.sh'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inBox = (...cmd: string[]) => box('exec', BOX, ...cmd);
const observe = (unit: string) => JSON.parse(inBox('node', '/run/autoharden-src/test/integration/observe-cli.mjs', unit));

const canBox = process.getuid?.() === 0 && existsSync('/lib/systemd/systemd');

describe.skipIf(!canBox)('observe a unit in a real systemd', () => {
  beforeAll(() => {
    // Only the adapter and what it imports: the rest of the project may not compile at the moment.
    execFileSync('npx', ['tsc', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--lib', 'ES2022',
      '--types', 'node', '--strict', '--noUncheckedIndexedAccess', '--skipLibCheck', '--rootDir', 'src', '--outDir', 'dist',
      'src/adapters/procfs.ts'], { cwd: root, stdio: 'inherit' });
    box('start', BOX);
    inBox('systemctl', 'start', 'nginx.service', 'memcached.service');
    // A child that leaves the unit's cgroup for a session scope and takes a login UID, as sshd's do.
    // ("echo 0" moves the writer itself; systemd would turn "$$" into "$".)
    inBox('systemd-run', '--unit=obs-sessions', '--service-type=exec', 'sh', '-c',
      'sh -c \'mkdir -p /sys/fs/cgroup/user.slice/session-7.scope && echo 0 > /sys/fs/cgroup/user.slice/session-7.scope/cgroup.procs && echo 1000 > /proc/self/loginuid && exec sleep 600\' & sleep 600 & wait');
    const scope = cgroupOnHost('/user.slice/session-7.scope/cgroup.procs');
    for (let i = 0; i < 100 && !(existsSync(scope) && readFileSync(scope, 'utf8').trim()); i++) execFileSync('sleep', ['0.05']);
  });

  afterAll(() => {
    box('stop', BOX);
  });

  it('nginx listens on 0.0.0.0:80, beyond loopback', () => {
    const r = observe('nginx.service');
    expect(r.observation.pids.length).toBeGreaterThanOrEqual(2); // master and workers
    expect(r.listeners).toContain('tcp 0.0.0.0:80');
    expect(r.listensOnNonLoopback).toBe(true);
    expect(r.usesInet).toBe(true);
    expect(r.families).toEqual(expect.arrayContaining(['AF_INET', 'AF_UNIX']));
    expect(r.observation.writablePaths).toEqual(expect.arrayContaining(['/var/log/nginx/error.log']));
    expect(r.sessionEvidence).toEqual([]);
  });

  it('memcached listens on loopback only', () => {
    const r = observe('memcached.service');
    expect(r.listeners).toEqual(['tcp 127.0.0.1:11211']);
    expect(r.listensOnNonLoopback).toBe(false);
    expect(r.families).toEqual(['AF_INET', 'AF_UNIX']);
    expect(r.peers).toEqual([]);
  });

  it('finds a descendant that moved into a session scope', () => {
    const r = observe('obs-sessions.service');
    expect(r.sessionEvidence).toEqual([expect.stringMatching(/\(sleep\) lives in \/user\.slice\/session-7\.scope$/)]);
    expect(r.observation.pids).toHaveLength(2); // the unit's cgroup: sh and one sleep
    expect(r.observation.sessions.processes).toHaveLength(3); // plus the sleep that left it
  });

  it('reads the sockets of the unit\'s network namespace from outside it', async () => {
    // Host PIDs of the box's nginx; the host's own namespace has nothing on port 80.
    const procs = readFileSync(cgroupOnHost('/system.slice/nginx.service/cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    const boxMain = Number(inBox('systemctl', 'show', '-p', 'MainPID', '--value', 'nginx.service').trim());
    const main = procs.find((p) => readFileSync(`/proc/${p}/status`, 'utf8').match(/^NSpid:.*\s(\d+)$/m)?.[1] === String(boxMain));
    expect(main).toBeDefined();
    const obs = await observeUnit(main!, '/system.slice/nginx.service', { cgroupRoot: cgroupOnHost('') });
    expect(listensOnNonLoopback(obs)).toBe(true);
    expect(nonLoopbackListeners(obs).map((s) => formatEndpoint(s.local))).toContain('0.0.0.0:80');
  });
});

/** The box's cgroup tree as the host sees it (box.sh puts it under ah-NAME). */
function cgroupOnHost(path: string): string {
  const base = existsSync('/sys/fs/cgroup/unified') ? `/sys/fs/cgroup/unified/ah-${BOX}` : `/sys/fs/cgroup/ah-${BOX}`;
  return base + path;
}
