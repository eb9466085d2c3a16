// The guard against a simulated service. Trust: only the check unit (/bin/true under the accepted
// settings, simulated by Behaviour.setupFails) may make it roll back; what the service does or
// logs — exit statuses, SIGSYS, errno lines, failures that recur — raises alerts and relaxes
// nothing, unless the admin opted in to relax-on-reproduction.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../src/core/journal.js';
import { acceptedSet } from '../../src/core/journal.js';
import { CATALOG } from '../../src/core/catalog.js';
import { checkOutcome } from '../../src/core/sandboxCheck.js';
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
  alerts: string[];
  checks: string[][];
  failedWith?: string;
  /** The unit's logs since its last start, as logsSince returns them. */
  logs: string[];
}

async function world(accepted = ['ProtectSystem', 'PrivateTmp', 'ProtectKernelTunables', 'NoNewPrivileges'], spec: Record<string, unknown> = {}): Promise<World> {
  const unit = new SimUnit(UNIT);
  const ports = simPorts(unit);
  tuned(ports, unit, accepted.map((o) => setting(o, o === 'ProtectSystem' ? 'strict' : 'yes')));
  const serial = new Serial();
  const e = newEnrollment(parseEnrollSpec({ unit: UNIT, settleMs: 100, ...spec }));
  e.state = 'guarding';
  const w = { unit, ports, serial, e, progress: [] as string[], logs: [] as string[], alerts: [] as string[], checks: [] as string[][] } as unknown as World;
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
    checkSandbox: async (_u, settings) => {
      const names = settings.map((s) => s.option);
      w.checks.push(names);
      const status = unit.behaviour.setupFails?.(names);
      return status === undefined
        ? { setUp: true, reason: 'the sandbox sets up (checked with /bin/true)' }
        : checkOutcome('failed', { ...unit.snap, activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: status });
    },
    alert: (_u, reason, evidence) => {
      w.alerts.push(reason);
      ports.journal.append({ kind: 'alert', by: 'guard', reason, evidence });
    },
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

const alerts = (w: World) => w.ports.journal.read().filter((r): r is Extract<JournalRecord, { kind: 'alert' }> => r.kind === 'alert');
const rollbacks = (w: World) => w.ports.journal.read().filter((r): r is Extract<JournalRecord, { kind: 'rollback' }> => r.kind === 'rollback');
const accepted = (w: World) => acceptedSet(w.ports.journal.read()).map((s) => s.option);
const settle = async (w: World) => {
  await new Promise((r) => setTimeout(r, 10));
  await w.serial.idle();
};

let current: World | undefined;
afterEach(() => current?.guard.stop());

describe('the guard', () => {
  it('rolls back only what its check unit proves cannot be set up, found by the exit status, journaled as guard', async () => {
    const w = (current = await world());
    // After a kernel upgrade, say: ProtectKernelTunables can no longer be set up (226/NAMESPACE).
    w.unit.behaviour.setupFails = (acc) => (acc.includes('ProtectKernelTunables') ? 226 : undefined);
    w.unit.behaviour.startFails = (acc) => (acc.includes('ProtectKernelTunables') ? { status: 226, logs: [] } : undefined);
    failNow(w, 226, []);
    await settle(w);
    const rb = rollbacks(w);
    expect(rb.map((r) => [r.by, r.options])).toEqual([['guard', ['ProtectKernelTunables']]]);
    expect(rb[0]!.reason).toMatch(/cannot be set up.*226.*check unit/);
    // found by the check's exit status: the whole set, without its suspect, the rest (no bisection)
    expect(w.checks.map((c) => c.includes('ProtectKernelTunables'))).toEqual([true, false, false]);
    expect(accepted(w)).toEqual(['ProtectSystem', 'PrivateTmp', 'NoNewPrivileges']);
    expect(w.unit.snap.activeState).toBe('active');
  });

  it('bisects the acceptance order with the check unit when the exit status points at nothing accepted', async () => {
    const w = (current = await world(['ProtectSystem', 'PrivateTmp', 'ProtectHome', 'NoNewPrivileges']));
    // 218/CAPABILITIES points at no accepted option here; PrivateTmp is what cannot be set up.
    w.unit.behaviour.setupFails = (acc) => (acc.includes('PrivateTmp') ? 218 : undefined);
    w.unit.behaviour.startFails = (acc) => (acc.includes('PrivateTmp') ? { status: 218, logs: [] } : undefined);
    failNow(w, 218, []);
    await settle(w);
    expect(rollbacks(w).map((r) => r.options)).toEqual([['PrivateTmp']]);
    expect(accepted(w)).toEqual(['ProtectSystem', 'ProtectHome', 'NoNewPrivileges']);
    // every check was of a prefix or subset of the accepted set: the service itself was never restarted for it
    expect(w.checks.every((c) => c.every((o) => ['ProtectSystem', 'PrivateTmp', 'ProtectHome', 'NoNewPrivileges'].includes(o)))).toBe(true);
  });

  it.each([
    ['an exit status of its own choosing (226/NAMESPACE)', 226, [] as string[]],
    ['SIGSYS it raised on itself', 31, [] as string[]],
    ['errno lines it printed', 10, [EROFS, 'web: x open() "//etc/cron.d/p" failed (30: Read-only file system) (13: Permission denied) EPERM']],
  ])('alerts and relaxes nothing when the sandbox still sets up: %s', async (_what, status, logs) => {
    const w = (current = await world());
    w.unit.behaviour.startFails = () => ({ status, logs }); // hostile: fails whatever is accepted
    if (status === 31) {
      w.unit.snap = { ...w.unit.snap, invocationId: 'sys', activeState: 'failed', subState: 'failed', result: 'signal', execMainCode: 2, execMainStatus: 31 };
      w.logs.push('Main process exited, code=killed, status=31/SYS');
      await w.guard.resync();
    } else {
      failNow(w, status, logs);
    }
    await settle(w);
    expect(rollbacks(w)).toEqual([]);
    expect(accepted(w)).toHaveLength(4);
    const a = alerts(w);
    expect(a).toHaveLength(1);
    expect(a[0]!.reason).toMatch(/sandbox sets up.*relaxes nothing/);
    expect(w.checks).toEqual([['ProtectSystem', 'PrivateTmp', 'ProtectKernelTunables', 'NoNewPrivileges']]);
  });

  it('never rolls back on any cause the service can produce: its exit status, its signal, the lines it logs', async () => {
    // Untrusted causes point at options (the alert names them); only the check unit may prove one.
    const ACCEPTED = ['ProtectSystem', 'PrivateTmp', 'ProtectKernelTunables', 'NoNewPrivileges', 'CapabilityBoundingSet', 'SystemCallFilter'];
    const FORGED = [
      EROFS,
      'Main process exited, code=exited, status=226/NAMESPACE', // systemd's words, printed by the service
      'web.service: Failed at step NAMESPACE spawning /usr/bin/web: Read-only file system',
      'web: seccomp: bad system call (SIGSYS)',
      'web: setuid: Operation not permitted (EPERM)',
    ];
    const end = fc.oneof(
      fc.record({ code: fc.constant(1), status: fc.oneof(fc.constantFrom(1, 10, 217, 218, 226, 227, 228, 232), fc.integer({ min: 1, max: 255 })) }),
      fc.record({ code: fc.constantFrom(2, 3), status: fc.constantFrom(31, 9, 11, 6) }),
    );
    await fc.assert(
      fc.asyncProperty(end, fc.subarray(FORGED), async ({ code, status }, logs) => {
        current?.guard.stop();
        const w = (current = await world(ACCEPTED));
        w.unit.behaviour.startFails = () => ({ status, logs }); // fails whatever is accepted
        w.unit.snap = {
          ...w.unit.snap, invocationId: `${w.unit.snap.invocationId}x`, activeState: 'failed', subState: 'failed',
          result: code === 1 ? 'exit-code' : code === 2 ? 'signal' : 'core-dump', execMainCode: code, execMainStatus: status,
        };
        w.logs.push(...logs);
        await w.guard.resync();
        await settle(w);
        expect(rollbacks(w)).toEqual([]);
        expect(accepted(w)).toEqual(ACCEPTED);
        expect(w.checks).toEqual([ACCEPTED]); // asked the check once, which says the sandbox sets up
        const a = alerts(w);
        expect(a).toHaveLength(1);
        expect(a[0]!.reason).toMatch(/sandbox sets up.*relaxes nothing/);
        // not a vacuous pass: evidence that points at a setting was there, and was named
        if (logs.length || status === 226) expect(a[0]!.reason).toMatch(/points at .*ProtectSystem|points at .*SystemCallFilter|points at .*CapabilityBoundingSet/);
        if (code !== 1 && status === 31 && logs.length === 0) expect(a[0]!.reason).toMatch(/points at SystemCallFilter/);
      }),
      { numRuns: 25 },
    );
  });

  it('alerts once for a failure that repeats (Restart= retrying it), and checks the sandbox once', async () => {
    const w = (current = await world());
    const before = w.unit.restarts;
    for (let i = 0; i < 3; i++) {
      failNow(w, 1, ['web: config error: unknown directive "frobnicate" in /etc/web.conf:3']);
      await settle(w);
    }
    expect(rollbacks(w)).toEqual([]);
    expect(alerts(w)).toHaveLength(1);
    expect(alerts(w)[0]!.reason).toMatch(/exit status 1/);
    expect(w.checks).toHaveLength(1);
    expect(w.unit.restarts).toBe(before);
  });

  it('takes the word of systemd ≥ 256 that the service code ran: no check, an alert', async () => {
    const w = (current = await world());
    w.unit.behaviour.setupFails = () => 226; // would be rolled back if the check ran
    w.unit.snap = { ...w.unit.snap, execMainStartMono: 1000, execMainHandoffMono: 1005 };
    failNow(w, 226, []);
    await settle(w);
    expect(w.checks).toEqual([]);
    expect(rollbacks(w)).toEqual([]);
    expect(alerts(w)[0]!.reason).toMatch(/ExecMainHandoffTimestamp/);
  });

  it('alerts on a new errno-like log line of a running unit and relaxes nothing, one alert per kind of line', async () => {
    const w = (current = await world());
    for (const path of ['/etc/a', '/etc/b', '//etc/cron.d/p']) {
      w.guard.logLine(UNIT, Date.now(), `web: sometimes-write ${path} failed: EROFS: read-only file system, open '${path}'`);
      await new Promise((r) => setTimeout(r, 1700)); // debounced: a failure of the unit would explain it better
      await settle(w);
    }
    expect(rollbacks(w)).toEqual([]);
    expect(alerts(w)).toHaveLength(1);
    expect(alerts(w)[0]!.reason).toMatch(/points at ProtectKernelTunables, ProtectSystem.*nothing relaxed/);
    expect(alerts(w)[0]!.evidence[0]).toContain('/etc/a');
    expect(w.unit.restarts).toBe(0);
  }, 15_000);

  it('does not take up known lines or what the daemon itself causes', async () => {
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
    expect(alerts(w)).toEqual([]);
  }, 10_000);

  it('notices a failure it missed while systemd was re-executing, on resync, and still needs the check to act', async () => {
    const w = (current = await world());
    w.unit.behaviour.setupFails = (acc) => (acc.includes('ProtectKernelTunables') ? 226 : undefined);
    w.unit.snap = { ...w.unit.snap, invocationId: 'new', activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: 226 };
    w.logs.push('Main process exited, code=exited, status=226/NAMESPACE');
    await w.guard.resync();
    await settle(w);
    expect(rollbacks(w).map((r) => r.options)[0]).toEqual(['ProtectKernelTunables']);
  });

  describe('relax-on-reproduction (opt-in)', () => {
    // EROFS points at ProtectSystem only among these
    const RELAXABLE = ['PrivateTmp', 'ProtectSystem', 'NoNewPrivileges'];
    const breaks = (w: World) => {
      w.unit.behaviour.startFails = (acc) => (acc.includes('ProtectSystem') ? { status: 10, logs: [EROFS] } : undefined);
    };

    it('relaxes the setting the evidence points at when every arm with it fails and every arm without it passes', async () => {
      const w = (current = await world(RELAXABLE, { guard: 'relax-on-reproduction' }));
      breaks(w);
      failNow(w, 10, [EROFS]);
      await settle(w);
      const rb = rollbacks(w);
      expect(rb.map((r) => r.options)).toEqual([['ProtectSystem']]);
      expect(rb[0]!.reason).toMatch(/^reproduced: .*A:ok B:failed B:failed A:ok/);
      expect(accepted(w)).not.toContain('ProtectSystem');
      expect(w.unit.accepted.map((s) => s.option)).not.toContain('ProtectSystem'); // in force: the last arm ran without it
      expect(w.unit.snap.activeState).toBe('active');
    });

    it('keeps the setting when the failure does not follow it (a service failing on its own)', async () => {
      const w = (current = await world(RELAXABLE, { guard: 'relax-on-reproduction' }));
      w.unit.behaviour.startFails = () => ({ status: 10, logs: [EROFS] });
      failNow(w, 10, [EROFS]);
      await settle(w);
      expect(rollbacks(w)).toEqual([]);
      expect(w.alerts.at(-1)).toMatch(/ProtectSystem kept: the failure did not follow it/);
      expect(w.unit.accepted.map((s) => s.option)).toContain('ProtectSystem');
    });

    it('never goes below the floor, and relaxes at most one setting a day', async () => {
      const w = (current = await world(RELAXABLE, { guard: 'relax-on-reproduction', guardFloor: ['ProtectSystem'] }));
      breaks(w);
      failNow(w, 10, [EROFS]);
      await settle(w);
      expect(rollbacks(w)).toEqual([]);
      expect(w.alerts.at(-1)).toMatch(/pinned by the floor/);

      current.guard.stop();
      const v = (current = await world(['PrivateTmp', 'ProtectSystem', 'ProtectKernelTunables'], { guard: 'relax-on-reproduction' }));
      v.unit.behaviour.startFails = (acc) => (acc.includes('ProtectKernelTunables') ? { status: 10, logs: [EROFS] } : undefined);
      failNow(v, 10, [EROFS]);
      await settle(v);
      expect(rollbacks(v).map((r) => r.options)).toEqual([['ProtectKernelTunables']]);
      v.unit.behaviour.startFails = (acc) => (acc.includes('ProtectSystem') ? { status: 10, logs: [EROFS] } : undefined);
      failNow(v, 10, [EROFS.replace('state', 'other')]);
      await settle(v);
      expect(rollbacks(v)).toHaveLength(1);
      expect(v.alerts.at(-1)).toMatch(/at most one a day/);
    });
  });
});
