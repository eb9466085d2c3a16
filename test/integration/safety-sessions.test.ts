// Issue 3, spawned sessions: sshd's login sessions run inside ssh.service's sandbox (pam_systemd
// moves them to session-N.scope, but they keep its mount namespace, capabilities, seccomp filters
// and umask), so a login probe that passes says nothing about what the admin who logs in can do.
// Tuned without --confine-sessions, a remote login session (from the remote test host) can still
// write /etc and read /root; with it, ProtectSystem is accepted and the session can no longer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, type ExecResult, type Remote, boxName, startBox, waitFor } from '../harness/box.js';

interface Outcome { option: string; value: string; reason: string; safety?: string }
interface Report { accepted: Outcome[]; rejected: Outcome[]; skipped: Outcome[]; warnings: string[]; trials: number }

const UNIT = 'ssh.service';
const KEY = '/root/.ssh/autoharden_test';
const SSH_OPTS = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=5'];
const LOGIN_PROBE = `exec:ssh ${SSH_OPTS.join(' ')} -i ${KEY} root@127.0.0.1 true`;
/** Options that reach the sessions sshd spawns (the catalog's confinesSessions, plus UMask). */
const CONFINING = ['ProtectSystem', 'ProtectHome', 'PrivateTmp', 'CapabilityBoundingSet', 'NoNewPrivileges', 'SystemCallFilter',
  'RestrictAddressFamilies', 'RestrictSUIDSGID', 'PrivateDevices', 'ProtectKernelTunables', 'MemoryDenyWriteExecute', 'UMask'];

let box: Box;
let remote: Remote;

async function tune(extra: string[] = []): Promise<Report> {
  const r = await box.cli(['tune', UNIT, '--probe', LOGIN_PROBE, '--settle', '1000ms', '--strategy', 'adaptive', '--json', ...extra], { timeoutMs: 240_000 });
  expect(r.code, r.stderr.slice(-3000)).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

/** A login session from the remote host to the box's non-loopback address, running `script`. */
function remoteSession(script: string): Promise<ExecResult> {
  // the key lives in the box's private /root; root on the machine reads it through PID 1's root
  return remote.exec(['ssh', ...SSH_OPTS, '-i', `/proc/${box.pid1}/root${KEY}`, `root@${remote.boxAddress}`, script], { timeoutMs: 30_000 });
}

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  remote = await box.remote();
  // /root is the machine's own in a box (only /etc and /var are overlays): give the box a private one.
  await box.check(['sh', '-ec', `
    mount -t tmpfs -o mode=0700 tmpfs /root
    mkdir -m 0700 /root/.ssh
    ssh-keygen -q -t ed25519 -N '' -C autoharden-test -f ${KEY}
    cp ${KEY}.pub /root/.ssh/authorized_keys
    echo 'root secret' > /root/secret && chmod 600 /root/secret
    [ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A
    systemctl start ${UNIT}`]);
  await waitFor(async () => (await box.exec(['sh', '-c', LOGIN_PROBE.slice('exec:'.length)])).code === 0, 20_000, { what: 'ssh login to 127.0.0.1' });
  // A session that stays open through the tune: observation sees it under session-N.scope.
  await box.check(['sh', '-c', `setsid ssh ${SSH_OPTS.join(' ')} -i ${KEY} root@127.0.0.1 'exec sleep 900' </dev/null >/dev/null 2>&1 &`]);
  await waitFor(async () => (await box.exec(['sh', '-c', 'loginctl list-sessions --no-legend | grep -q root'])).code === 0, 10_000, { what: 'a logind session for root' });
}, 90_000);

afterAll(async () => {
  await box?.stop();
});

describe('sshd tuned with a login probe, sessions not declared', () => {
  let report: Report;
  beforeAll(async () => {
    report = await tune();
  }, 240_000);

  it('sees from the running unit that it spawns sessions: its PAM stack and a session scope below it', () => {
    const w = report.warnings.join('\n');
    expect(w).toMatch(/PAM stack sshd registers sessions with pam_systemd\.so/);
    expect(w).toMatch(/pid \d+ \(\w+\) lives in \/user\.slice\/user-0\.slice\/session-\d+\.scope/);
  });

  it('applies nothing that would confine the sessions, and says why', async () => {
    const accepted = report.accepted.map((a) => a.option);
    for (const o of CONFINING) expect(accepted).not.toContain(o);
    for (const o of ['ProtectSystem', 'ProtectHome', 'CapabilityBoundingSet', 'NoNewPrivileges', 'UMask']) {
      expect(report.skipped.find((s) => s.option === o)?.reason, o).toMatch(/spawns login sessions \(.*\); \w+ would confine them too — pass --confine-sessions/);
    }
    // the reach reason comes first where --confine-sessions would not help
    expect(report.skipped.find((s) => s.option === 'PrivateNetwork')?.reason).toMatch(/inet sockets \(tcp 0\.0\.0\.0:22/);
    expect(report.skipped.find((s) => s.option === 'IPAddressDeny')?.reason).toMatch(/listens on 0\.0\.0\.0:22/);
    expect(await box.show(UNIT, ['ProtectSystem', 'ProtectHome', 'UMask'])).toEqual({ ProtectSystem: 'no', ProtectHome: 'no', UMask: '0022' });
    const j = JSON.parse((await box.check(['node', '/run/autoharden-src/dist/cli/main.js', 'journal', UNIT, '--json']))) as Array<{ kind: string; option?: string; reason?: string }>;
    expect(j.find((r) => r.kind === 'skipped' && r.option === 'ProtectSystem')?.reason).toMatch(/--confine-sessions/);
  });

  it('a remote login session can still write /etc and read /root', async () => {
    const r = await remoteSession('touch /etc/autoharden-remote-1 && cat /root/secret && umask && cat /proc/self/cgroup');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('root secret');
    expect(r.stdout).toMatch(/^0022$/m);
    expect(r.stdout).toMatch(/session-\d+\.scope/);
    expect(await box.readFile('/etc/autoharden-remote-1')).toBe('');
  });
});

describe('sshd tuned with --confine-sessions', () => {
  let report: Report;
  beforeAll(async () => {
    report = await tune(['--confine-sessions']);
  }, 240_000);

  it('accepts options that confine the sessions; the login probe still passes', async () => {
    const ps = report.accepted.find((a) => a.option === 'ProtectSystem');
    expect(['strict', 'full'].some((v) => ps?.value.startsWith(v)), JSON.stringify(ps)).toBe(true);
    expect((await box.exec(['sh', '-c', LOGIN_PROBE.slice('exec:'.length)])).code).toBe(0);
  });

  it('a remote login session may no longer write /etc', async () => {
    const r = await remoteSession('touch /etc/autoharden-remote-2');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(await box.readFile('/etc/autoharden-remote-2')).toBeNull();
    const home = report.accepted.find((a) => a.option === 'ProtectHome');
    if (home) {
      // yes and tmpfs hide root's authorized_keys (the probe fails); read-only is what passes
      expect(home.value).toBe('read-only');
      const w = await remoteSession('touch /root/autoharden-remote-2');
      expect(w.stderr).toMatch(/Read-only file system/);
    }
  });
});
