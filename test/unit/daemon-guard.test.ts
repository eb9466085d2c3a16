// The guard against a simulated service: what it rolls back, in which order, what it leaves
// alone, and what it does not mistake for a failure.
import { afterEach, describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../src/core/journal.js';
import { acceptedSet } from '../../src/core/journal.js';
import { CATALOG } from '../../src/core/catalog.js';
import type { UnitSnapshot } from '../../src/core/types.js';
import { Guard, type GuardHost } from '../../src/daemon/guard.js';
import { Serial } from '../../src/daemon/serial.js';
import { parseEnrollSpec } from '../../src/daemon/spec.js';
import { newEnrollment, type Enrollment } from '../../src/daemon/store.js';
import { SimUnit, setting, simPorts, tuned } from './daemon-fakes.js';

const UNIT = 'web.service';
const EROFS = "web: FATAL: cannot write /etc/web/state: EROFS: read-only file system, open '/etc/web/state'";

interface World {
  unit: SimUnit;
  ports: ReturnType<typeof simPorts>;
  guard: Guard;
  serial: Serial;
  e: Enrollment;
  progress: string[];
  failedWith?: string;
  /** The unit's logs since its last start, as logsSince returns them. */
  logs: string[];
}

async function world(accepted = ['ProtectSystem', 'PrivateTmp', 'ProtectKernelTunables', 'NoNewPrivileges']): Promise<World> {
  const unit = new SimUnit(UNIT);
  const ports = simPorts(unit);
  tuned(ports, unit, accepted.map((o) => setting(o, o === 'ProtectSystem' ? 'strict' : 'yes')));
  const serial = new Serial();
  const e = newEnrollment(parseEnrollSpec({ unit: UNIT, settleMs: 100 }));
  e.state = 'guarding';
  const w = { unit, ports, serial, e, progress: [] as string[], logs: [] as string[] } as unknown as World;
  const host: GuardHost = {
    schedule: (_u, task) => void serial.run(task),
    ports: () => ports,
    enrollment: () => (w.e.state === 'guarding' ? w.e : undefined),
    save: () => {},
    progress: (_u, m) => w.progress.push(m),
    markFailed: (_u, why) => {
      w.failedWith = why;
      w.e.state = 'failed';
    },
    snapshot: async () => ({ ...unit.snap }),
    watch: async () => {},
    unwatch: async () => {},
    follow: () => {},
    followFiles: () => {},
    knownErrors: async () => new Set(),
    logsSince: async () => w.logs.splice(0),
    log: { info: () => {}, warn: () => {}, debug: () => {} },
  };
  w.guard = new Guard(host, CATALOG);
  await w.guard.add(UNIT, new Date(0));
  return w;
}

/** The unit fails on its own (an admin restart, a config change): signals as systemd sends them. */
function failNow(w: World, status: number, logs: string[]): void {
  w.unit.snap = { ...w.unit.snap, invocationId: `${w.unit.snap.invocationId}x` };
  w.guard.unitChanged(UNIT, 'org.freedesktop.systemd1.Unit', { InvocationID: w.unit.snap.invocationId, ActiveState: 'activating' });
  const failed: Partial<UnitSnapshot> = { activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: status };
  w.unit.snap = { ...w.unit.snap, ...failed };
  w.logs.push(...logs, `Main process exited, code=exited, status=${status}/FAILURE`);
  w.guard.unitChanged(UNIT, 'org.freedesktop.systemd1.Service', { Result: 'exit-code', ExecMainCode: 1, ExecMainStatus: status });
  w.guard.unitChanged(UNIT, 'org.freedesktop.systemd1.Unit', { ActiveState: 'failed', SubState: 'failed' });
}

const rollbacks = (w: World) => w.ports.journal.read().filter((r): r is Extract<JournalRecord, { kind: 'rollback' }> => r.kind === 'rollback');
const accepted = (w: World) => acceptedSet(w.ports.journal.read()).map((s) => s.option);
const settle = async (w: World) => {
  await new Promise((r) => setTimeout(r, 10));
  await w.serial.idle();
};

let current: World | undefined;
afterEach(() => current?.guard.stop());

describe('the guard', () => {
  it('rolls back the implicated options newest first until the unit runs, journaling each as guard', async () => {
    const w = (current = await world());
    // From now on the service writes under /etc at start: any read-only /etc breaks it.
    w.unit.behaviour.startFails = (acc) => (acc.includes('ProtectSystem') || acc.includes('ProtectKernelTunables') ? { status: 10, logs: [EROFS] } : undefined);
    failNow(w, 10, [EROFS]);
    await settle(w);
    const rb = rollbacks(w);
    expect(rb.map((r) => [r.by, r.options])).toEqual([['guard', ['ProtectKernelTunables']], ['guard', ['ProtectSystem']]]);
    expect(rb[0]!.reason).toMatch(/main process exit status 10.*read-only file system.*points at ProtectKernelTunables \(then ProtectSystem\)/);
    expect(accepted(w)).toEqual(['PrivateTmp', 'NoNewPrivileges']);
    expect(w.unit.snap.activeState).toBe('active');
    expect(w.e.guardHistory[Object.keys(w.e.guardHistory)[0]!]).toEqual(['ProtectKernelTunables', 'ProtectSystem']);
  });

  it('rolls back the rest of the family when the failure recurs with nothing implicated left', async () => {
    const w = (current = await world(['ProtectSystem', 'PrivateTmp', 'NoNewPrivileges', 'ProtectHome']));
    // Breaks under any file-system option, but only says EROFS: ProtectSystem first, then the family.
    w.unit.behaviour.startFails = (acc) => (acc.some((o) => ['ProtectSystem', 'PrivateTmp', 'ProtectHome'].includes(o)) ? { status: 10, logs: [EROFS] } : undefined);
    failNow(w, 10, [EROFS]);
    await settle(w);
    expect(rollbacks(w).map((r) => r.options)).toEqual([['ProtectSystem'], ['PrivateTmp', 'ProtectHome']]);
    expect(accepted(w)).toEqual(['NoNewPrivileges']);
    expect(w.unit.snap.activeState).toBe('active');
  });

  it('gives up, journaled, when the failure outlives every rollback it points at', async () => {
    const w = (current = await world(['ProtectSystem', 'NoNewPrivileges']));
    w.unit.behaviour.startFails = () => ({ status: 10, logs: [EROFS] });
    failNow(w, 10, [EROFS]);
    await settle(w);
    const rb = rollbacks(w);
    expect(rb.map((r) => r.options)).toEqual([['ProtectSystem'], []]);
    expect(rb[1]!.reason).toMatch(/^giving up: .*nothing more to roll back/);
    expect(w.failedWith).toMatch(/guard gave up/);
    expect(accepted(w)).toEqual(['NoNewPrivileges']);
  });

  it('journals a failure nothing points at (exit 1, a config error) once, rolls nothing back and restarts nothing', async () => {
    const w = (current = await world());
    const before = w.unit.restarts;
    failNow(w, 1, ['web: config error: unknown directive "frobnicate" in /etc/web.conf:3']);
    await settle(w);
    expect(rollbacks(w).map((r) => [r.by, r.options])).toEqual([['guard', []]]);
    expect(rollbacks(w)[0]!.reason).toMatch(/main process exit status 1.*nothing points at a hardening option; nothing rolled back/);
    expect(accepted(w)).toHaveLength(4);
    expect(w.unit.restarts).toBe(before);
    // Restart= retrying it (NRestarts counts up): not journaled again…
    w.unit.snap = { ...w.unit.snap, nRestarts: 1 };
    w.guard.unitChanged(UNIT, 'org.freedesktop.systemd1.Service', { NRestarts: 1 });
    failNow(w, 1, ['web: config error: unknown directive "frobnicate" in /etc/web.conf:3']);
    await settle(w);
    expect(rollbacks(w)).toHaveLength(1);
    // …but after an admin's restart, the same failure is news again.
    failNow(w, 1, ['web: config error: unknown directive "frobnicate" in /etc/web.conf:3']);
    await settle(w);
    expect(rollbacks(w)).toHaveLength(2);
  });

  it('takes up a new errno-like log line of a running unit that implicates an accepted option', async () => {
    const w = (current = await world());
    w.guard.logLine(UNIT, Date.now(), "web: sometimes-write /etc/web.state failed: EROFS: read-only file system, open '/etc/web.state'");
    await new Promise((r) => setTimeout(r, 1700)); // debounced: a failure of the unit would explain it better
    await settle(w);
    expect(rollbacks(w).map((r) => r.options)).toEqual([['ProtectKernelTunables']]);
    expect(w.unit.snap.activeState).toBe('active');
  });

  it('does not take up lines that implicate nothing, known lines, or what the daemon itself causes', async () => {
    const w = (current = await world());
    w.guard.logLine(UNIT, Date.now(), 'web: client 10.0.0.1 sent a bad request');
    w.guard.logLine(UNIT, Date.now() - 60_000, 'web: open /etc/x failed: Read-only file system'); // before the guard's last action
    w.guard.suspend(UNIT);
    failNow(w, 10, [EROFS]); // the daemon's own restart (a user's rollback, say)
    w.guard.logLine(UNIT, Date.now(), EROFS);
    await w.guard.resume(UNIT);
    await new Promise((r) => setTimeout(r, 1700));
    await settle(w);
    expect(rollbacks(w)).toEqual([]);
    w.guard.logLine(UNIT, Date.now(), 'web: connection from 10.0.0.1 failed: Permission denied (publickey)');
    await new Promise((r) => setTimeout(r, 1700));
    await settle(w);
    // "permission denied" implicates UMask (not accepted here) and nothing else: ignored, not journaled
    expect(rollbacks(w)).toEqual([]);
  }, 10_000);

  it('notices a failure it missed while systemd was re-executing, on resync', async () => {
    const w = (current = await world());
    w.unit.behaviour.startFails = (acc) => (acc.includes('ProtectKernelTunables') ? { status: 226, logs: ['web: Failed to set up mount namespacing: /proc/sys: Read-only file system'] } : undefined);
    w.unit.snap = { ...w.unit.snap, invocationId: 'new', activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: 226 };
    w.logs.push('Main process exited, code=exited, status=226/NAMESPACE');
    await w.guard.resync();
    await settle(w);
    expect(rollbacks(w).map((r) => r.options)[0]).toEqual(['ProtectKernelTunables']);
  });
});
