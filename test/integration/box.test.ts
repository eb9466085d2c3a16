// Proves the box harness and the bundled sample service: a real systemd boots, the sample breaks
// under exactly the options sample/README.md lists (with the status measured there) and works under
// the rest, nginx runs in the box, a remote host reaches it, and stop() leaves nothing behind.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, SAMPLE_UNIT, SAMPLE_URL, boxName, startBox, waitFor } from '../harness/box.js';

const DROPIN = `/run/systemd/system/${SAMPLE_UNIT}.d/zz-test.conf`;

interface Outcome {
  ActiveState: string;
  Result: string;
  ExecMainCode: string; // 1 exited, 2 killed, 3 dumped
  ExecMainStatus: string;
  http: number | null;
  httpError?: string;
}

/** Apply `lines` as a drop-in (none: remove it), restart the sample and report how it settled. */
async function trial(box: Box, lines: string[]): Promise<Outcome> {
  if (lines.length) await box.writeFile(DROPIN, `[Service]\n${lines.join('\n')}\n`);
  else await box.check(['rm', '-f', DROPIN]);
  await box.check(['systemctl', 'daemon-reload']);
  await box.exec(['systemctl', 'reset-failed', SAMPLE_UNIT]);
  await box.check(['systemctl', 'restart', SAMPLE_UNIT]); // Type=simple: returns right after fork
  const props = ['ActiveState', 'Result', 'ExecMainCode', 'ExecMainStatus'];
  // Settled: failed, or answering; or (network cut off) still active after 5 s without an answer.
  const t0 = Date.now();
  return waitFor(async () => {
    const s = await box.show(SAMPLE_UNIT, props);
    if (s.ActiveState === 'failed') return { ...(s as unknown as Outcome), http: null };
    if (s.ActiveState !== 'active') return null;
    const h = await box.http(SAMPLE_URL, { timeoutMs: 1500 });
    if (h.status === null && Date.now() - t0 < 5000) return null;
    if (h.status !== null) await new Promise((r) => setTimeout(r, 500));
    const after = await box.show(SAMPLE_UNIT, props); // still up a little after answering?
    return { ...(after as unknown as Outcome), http: h.status, ...(h.error ? { httpError: h.error } : {}) };
  }, 20_000, { what: `${SAMPLE_UNIT} settles under ${lines.join(', ')}`, intervalMs: 100 });
}

const NAME = boxName(import.meta.url); // "it-box"
let box: Box;

beforeAll(async () => {
  box = await startBox(NAME);
});

afterAll(async () => {
  await box?.stop();
});

describe('the box', () => {
  it('runs a real systemd as PID 1 with a system bus', async () => {
    expect((await box.exec('cat /proc/1/comm')).stdout.trim()).toBe('systemd');
    const state = await box.exec(['systemctl', 'is-system-running', '--wait']);
    expect(state.stdout.trim()).toBe('running');
    expect((await box.exec(['systemctl', 'is-active', 'dbus.socket', 'systemd-journald.socket'])).code).toBe(0);
    expect((await box.exec(['busctl', '--system', 'status', 'org.freedesktop.systemd1'])).code).toBe(0);
    // the host's PID 1 is not systemd; ours is the box's
    expect(readFileSync(`/proc/${box.pid1}/comm`, 'utf8').trim()).toBe('systemd');
  });

  it('mounts the checkout, keeps /etc private, and exec never throws', async () => {
    expect((await box.exec(['test', '-f', '/run/autoharden-src/package.json'])).code).toBe(0);
    await box.writeFile('/etc/autoharden-box-test', 'x\n');
    expect(await box.readFile('/etc/autoharden-box-test')).toBe('x\n');
    expect(existsSync('/etc/autoharden-box-test')).toBe(false);
    const r = await box.exec('echo out; echo err >&2; exit 7', { env: { FOO: 'bar' } });
    expect(r).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    expect((await box.exec('echo $FOO', { env: { FOO: 'bar' } })).stdout).toBe('bar\n');
    expect((await box.exec(['sleep', '10'], { timeoutMs: 300 }))).toMatchObject({ code: 124, timedOut: true });
  });
});

describe('the sample service', () => {
  beforeAll(async () => {
    await box.installSample();
  });

  it('answers 200 on 127.0.0.1:81 and counts requests in /var/lib/autoharden-sample', async () => {
    const a = await box.http(SAMPLE_URL);
    const b = await box.http(SAMPLE_URL);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const n = (s: string) => Number(/count=(\d+)/.exec(s)?.[1]);
    expect(n(b.body)).toBe(n(a.body) + 1);
    expect((await box.readFile('/var/lib/autoharden-sample/counter'))?.trim()).toBe(String(n(b.body)));
    expect((await box.http('http://127.0.0.1:81/nope')).status).toBe(404);
  });

  it('fails with status 10 (EROFS) under ProtectSystem=strict and comes back without it', async () => {
    const broken = await trial(box, ['ProtectSystem=strict']);
    expect(broken).toMatchObject({ ActiveState: 'failed', Result: 'exit-code', ExecMainCode: '1', ExecMainStatus: '10' });
    const log = await box.exec(['journalctl', '-u', SAMPLE_UNIT, '-n', '20', '-o', 'cat']);
    expect(log.stdout).toMatch(/EROFS: read-only file system/);
    const back = await trial(box, []);
    expect(back).toMatchObject({ ActiveState: 'active', http: 200 });
  });

  // The measured table of sample/README.md: option(s) → how the sample breaks.
  const breaking: Array<[string[], Partial<Outcome>]> = [
    [['ProtectSystem=strict'], { ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '10' }],
    [['DynamicUser=yes'], { ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '10' }],
    [['RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'], { ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '11' }],
    [['RestrictAddressFamilies=none'], { ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '11' }],
    [['CapabilityBoundingSet='], { ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '12' }],
    [['CapabilityBoundingSet=~CAP_NET_BIND_SERVICE'], { ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '12' }],
    [['PrivateUsers=yes'], { ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '12' }],
    [['MemoryDenyWriteExecute=yes'], { ActiveState: 'failed', ExecMainStatus: '5' }], // SIGTRAP
    [['SystemCallFilter=@system-service'], { ActiveState: 'failed', ExecMainStatus: '31' }], // SIGSYS: pkey_alloc
    [['PrivateNetwork=yes'], { ActiveState: 'active', http: null, httpError: 'ECONNREFUSED' }],
    [['IPAddressDeny=any'], { ActiveState: 'active', http: null, httpError: 'TimeoutError' }],
  ];
  it.each(breaking)('breaks under %j', async (lines, expected) => {
    const o = await trial(box, lines);
    expect(o).toMatchObject(expected);
    if (expected.ExecMainStatus === '5' || expected.ExecMainStatus === '31') {
      expect(['signal', 'core-dump']).toContain(o.Result); // killed by the signal; dumped if core_pattern pipes
    }
  });

  it('works under all the other options together', async () => {
    const o = await trial(box, [
      'ProtectSystem=strict', 'ReadWritePaths=/var/lib/autoharden-sample',
      'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes', 'PrivateMounts=yes', 'PrivateIPC=yes',
      'ProtectKernelTunables=yes', 'ProtectKernelModules=yes', 'ProtectKernelLogs=yes',
      'ProtectControlGroups=yes', 'ProtectClock=yes', 'ProtectHostname=yes',
      'ProtectProc=invisible', 'ProcSubset=pid', 'NoNewPrivileges=yes', 'RestrictSUIDSGID=yes',
      'RestrictRealtime=yes', 'RestrictNamespaces=yes', 'LockPersonality=yes',
      'SystemCallArchitectures=native', 'SystemCallFilter=@system-service @pkey',
      'SystemCallFilter=~@privileged @resources',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'KeyringMode=private', 'UMask=0077', 'RemoveIPC=yes',
      'IPAddressDeny=any', 'IPAddressAllow=localhost', 'DevicePolicy=closed',
    ]);
    expect(o).toMatchObject({ ActiveState: 'active', Result: 'success', http: 200 });
  });

  it('SAMPLE_SOMETIMES_WRITE only logs EROFS under ProtectSystem=full and stays healthy', async () => {
    const o = await trial(box, [
      'Environment=SAMPLE_SOMETIMES_WRITE=/etc/autoharden-sample.state SAMPLE_SOMETIMES_INTERVAL_MS=200',
      'ProtectSystem=full',
    ]);
    expect(o).toMatchObject({ ActiveState: 'active', http: 200 });
    await waitFor(async () => /sometimes-write \/etc\/autoharden-sample.state failed: EROFS: read-only file system/
      .test((await box.exec(['journalctl', '-u', SAMPLE_UNIT, '-n', '5', '-o', 'cat'])).stdout), 5000,
    { what: 'EROFS logged' });
    expect(await box.show(SAMPLE_UNIT, ['ActiveState', 'NRestarts'])).toMatchObject({ ActiveState: 'active', NRestarts: '0' });
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
    await trial(box, []);
  });

  it('is reachable from a remote test host', async () => {
    const remote = await box.remote();
    const r = await remote.http(`http://${remote.boxAddress}:81/`);
    expect(r.status).toBe(200);
    expect((await remote.exec(['ip', '-br', 'addr'])).stdout).toContain(remote.address);
  });
});

describe('nginx in the box', () => {
  it('starts and serves on 127.0.0.1:80', async () => {
    await box.check(['systemctl', 'start', 'nginx.service']);
    const r = await waitFor(async () => {
      const h = await box.http('http://127.0.0.1:80/', { timeoutMs: 1000 });
      return h.status === 200 ? h : null;
    }, 15_000, { what: 'nginx answers' });
    expect(r.body).toMatch(/nginx/i);
    expect((await box.show('nginx.service', ['ActiveState'])).ActiveState).toBe('active');
  });
});

describe('stop', () => {
  it('removes PID 1, the cgroups and the box directory', async () => {
    const { pid1, cgroupDirs, dir } = box;
    expect(cgroupDirs.every((d) => existsSync(d))).toBe(true);
    await box.stop();
    const pid1Gone = !existsSync(`/proc/${pid1}`)
      || !readFileSync(`/proc/${pid1}/cgroup`, 'utf8').includes(`/ah-${box.name}`);
    expect(pid1Gone).toBe(true);
    for (const d of cgroupDirs) expect(existsSync(d)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    await box.stop(); // idempotent
  });
});
