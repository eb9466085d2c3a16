// The systemd D-Bus adapter against a real systemd 252, booted as PID 1 of private namespaces
// (scripts/box.sh). Needs root. The box's system bus is reached from outside through /proc/PID1/root.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Systemd, SystemdError } from '../../src/adapters/systemd.js';
import { rejection as rejectionOf } from '../unit/expect-errors.js';

const BOX = 'it-sysd';
const BOX_SH = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/box.sh');
const DROPIN_DIR = '/run/systemd/system/nginx.service.d';
const DROPIN = `${DROPIN_DIR}/zz-autoharden-90-trial.conf`;
const capLastCap = Number.parseInt(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'), 10);
const ALL_CAPS = Number((1n << BigInt(capLastCap + 1)) - 1n);

function box(...args: string[]): string {
  return execFileSync('bash', [BOX_SH, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const rejection = (p: Promise<unknown>) => rejectionOf(p, SystemdError);

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('Systemd adapter against a real systemd', () => {
  let sd: Systemd | undefined;

  beforeAll(async () => {
    box('stop', BOX); // a leftover from an interrupted run
    const pid1 = box('start', BOX).trim();
    expect(pid1).toMatch(/^\d+$/);
    sd = await Systemd.connect({ address: `unix:path=/proc/${pid1}/root/run/dbus/system_bus_socket`, callTimeoutMs: 10_000 });
  });

  afterAll(() => {
    try {
      sd?.close();
    } finally {
      box('stop', BOX);
    }
  });

  const systemd = (): Systemd => {
    if (!sd) throw new Error('not connected');
    return sd;
  };

  it('reads the major version', async () => {
    expect(await systemd().version()).toBe(252);
  });

  it('reads unitInfo of nginx.service', async () => {
    const info = await systemd().unitInfo('nginx.service');
    expect(info).toMatchObject({
      loadState: 'loaded',
      activeState: 'inactive',
      fragmentPath: expect.stringMatching(/\/systemd\/system\/nginx\.service$/),
      dropInPaths: [],
      needDaemonReload: false,
      type: 'forking',
    });
  });

  it('starts and restarts nginx: job results and a new InvocationID', async () => {
    expect(await systemd().start('nginx.service', 30_000)).toBe('done');
    const before = await systemd().snapshot('nginx.service');
    expect(before).toMatchObject({ activeState: 'active', subState: 'running', result: 'success', nRestarts: 0 });
    expect(before.invocationId).toMatch(/^[0-9a-f]{32}$/);
    expect(before.mainPid).toBeGreaterThan(1);

    expect(await systemd().restart('nginx.service', 30_000)).toBe('done');
    const after = await systemd().snapshot('nginx.service');
    expect(after.activeState).toBe('active');
    expect(after.invocationId).toMatch(/^[0-9a-f]{32}$/);
    expect(after.invocationId).not.toBe(before.invocationId);
    expect(after.mainPid).not.toBe(before.mainPid);
  });

  it('sees a drop-in only after reload(), with effective values converted', async () => {
    const write = (body: string): void => {
      box('exec', BOX, 'sh', '-c', `mkdir -p ${DROPIN_DIR} && printf '# Managed by autoharden\\n[Service]\\n${body}' > ${DROPIN}`);
    };
    write('ProtectSystem=full\\n');
    // systemd 252 looks for drop-ins through the unit path cache of its last reload: a UNIT.d
    // directory created since then goes unnoticed, so NeedDaemonReload stays false. Always Reload.
    expect((await systemd().unitInfo('nginx.service')).needDaemonReload).toBe(false);
    expect((await systemd().serviceProperties('nginx.service', ['ProtectSystem'])).ProtectSystem).toBe('no');
    await systemd().reload(); // replies once the reload is done
    expect((await systemd().serviceProperties('nginx.service', ['ProtectSystem'])).ProtectSystem).toBe('full');

    // now that the directory is known, a change to the drop-in is noticed
    write('ProtectSystem=strict\\nCapabilityBoundingSet=~CAP_CHOWN\\n');
    expect((await systemd().unitInfo('nginx.service')).needDaemonReload).toBe(true);
    await systemd().reload();
    const info = await systemd().unitInfo('nginx.service');
    expect(info.needDaemonReload).toBe(false);
    expect(info.dropInPaths).toEqual([DROPIN]);

    const eff = await systemd().serviceProperties('nginx.service', [
      'ProtectSystem',
      'CapabilityBoundingSet',
      'SystemCallFilter',
      'RestrictNamespaces',
      'IPAddressDeny',
      'NoNewPrivileges',
      'NoSuchProperty',
    ]);
    expect(eff.ProtectSystem).toBe('strict');
    expect(typeof eff.CapabilityBoundingSet).toBe('number');
    // ~CAP_CHOWN clears bit 0; as a plain Number(2^64 - 2) that bit would be lost
    expect(eff.CapabilityBoundingSet).toBe(ALL_CAPS - 1);
    expect(eff.SystemCallFilter).toEqual({ allow: false, items: [] });
    expect(typeof eff.RestrictNamespaces).toBe('number');
    expect(eff.IPAddressDeny).toEqual([]);
    expect(eff.NoNewPrivileges).toBe(false);
    expect(eff.NoSuchProperty).toBeNull();
    expect(() => JSON.stringify(eff)).not.toThrow();
  });

  it('reports a failed restart as "failed" and the unit result in the snapshot', async () => {
    // ProtectSystem=strict leaves /run read-only: nginx cannot write its pid file
    await systemd().resetFailed('nginx.service');
    expect(await systemd().restart('nginx.service', 30_000)).toBe('failed');
    const s = await systemd().snapshot('nginx.service');
    expect(s).toMatchObject({ activeState: 'failed', result: 'exit-code' });

    box('exec', BOX, 'rm', '-f', DROPIN);
    await systemd().reload();
    await systemd().resetFailed('nginx.service');
    expect((await systemd().snapshot('nginx.service')).activeState).toBe('inactive');
    expect(await systemd().start('nginx.service', 30_000)).toBe('done');
    expect(await systemd().stop('nginx.service', 30_000)).toBe('done');
  });

  it('throws NoSuchUnit for an unknown unit and ignores resetting it', async () => {
    const err = await rejection(systemd().unitInfo('nope.service'));
    expect(err.code).toBe('NoSuchUnit');
    expect((await rejection(systemd().restart('nope.service', 5_000))).code).toBe('NoSuchUnit');
    expect((await rejection(systemd().unitInfo('nope'))).code).toBe('InvalidArgs');
    await expect(systemd().resetFailed('nope.service')).resolves.toBeUndefined();
  });
});
