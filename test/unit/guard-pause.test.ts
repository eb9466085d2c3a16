// guard pause|resume: the pure rules (paused or expired at a time, what a request journals, the
// refusals), and the daemon with a simulated service: a failure during the pause is left to the
// admin (no check, no alert, no rollback), the resume looks afresh and judges it like any other,
// a pause ends by itself and is journaled as such, survives a daemon restart, and holds a queued tune.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decidePause } from '../../src/app/guardPause.js';
import { journalFor } from '../../src/compose.js';
import { AutohardenError } from '../../src/core/errors.js';
import type { JournalRecord } from '../../src/core/journal.js';
import { recordSchema } from '../../src/core/journal.js';
import { PAUSE_MAX_MS, clockText, expiredPause, openPause, pauseDecision, pausedUntil } from '../../src/core/pause.js';
import { formatRecord } from '../../src/cli/format.js';
import { pauseText } from '../../src/cli/guardCommands.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { formatStatus, statusRow } from '../../src/daemon/status.js';
import { checkOutcome } from '../../src/core/sandboxCheck.js';
import { daemonDeps, setting, simPorts, simSystemd, simUnits, stubSession, until } from './daemon-fakes.js';

const T0 = Date.parse('2026-12-02T12:00:00Z');
const rec = (t: number, r: Record<string, unknown>): JournalRecord => recordSchema.parse({ t: new Date(t).toISOString(), unit: 'web.service', ...r });
const pause = (t: number, forMs: number) => rec(t, { kind: 'guard', action: 'pause', by: 'user', until: new Date(t + forMs).toISOString() });
const resume = (t: number, by = 'user') => rec(t, { kind: 'guard', action: 'resume', by });
const tuneEnd = rec(T0 - 1000, { kind: 'tune-end', exposureBefore: 9.6, exposureAfter: 3, trials: 1, restarts: 1, durationMs: 1 });

function refusal(fn: () => unknown): AutohardenError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AutohardenError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe('the pause, folded from the journal', () => {
  it('is paused before until and not from until on; an old journal has no pause', () => {
    const j = [tuneEnd, pause(T0, 60_000)];
    expect(pausedUntil([tuneEnd], T0)).toBeUndefined();
    expect(pausedUntil(j, T0 + 59_999)).toBe(T0 + 60_000);
    expect(pausedUntil(j, T0 + 60_000)).toBeUndefined();
    expect(expiredPause(j, T0 + 59_999)).toBeUndefined();
    expect(expiredPause(j, T0 + 60_000)).toEqual({ kind: 'guard', action: 'resume', by: 'expiry', until: new Date(T0 + 60_000).toISOString() });
  });

  it('ends at a resume (by the admin or by expiry), and the last pause counts', () => {
    expect(openPause([pause(T0, 60_000), resume(T0 + 10)])).toBeUndefined();
    expect(expiredPause([pause(T0, 60_000), resume(T0 + 60_001, 'expiry')], T0 + 90_000)).toBeUndefined();
    const moved = [pause(T0, 60_000), pause(T0 + 1000, 3_600_000)];
    expect(pausedUntil(moved, T0 + 120_000)).toBe(T0 + 3_601_000);
    // paused again after a resume
    expect(pausedUntil([pause(T0, 1000), resume(T0 + 500), pause(T0 + 600, 1000)], T0 + 700)).toBe(T0 + 1600);
  });

  it('takes a pause whose end cannot be read as over: garbage never keeps the guard off', () => {
    const bad = rec(T0, { kind: 'guard', action: 'pause', by: 'user', until: 'tomorrow' });
    expect(pausedUntil([bad], T0)).toBeUndefined();
    expect(pausedUntil([rec(T0, { kind: 'guard', action: 'pause', by: 'user' })], T0)).toBeUndefined();
    expect(() => recordSchema.parse({ t: 'x', unit: 'u', kind: 'guard', action: 'stop', by: 'user' })).toThrow();
  });

  it('decides what a request journals: pause, re-pause, resume, resume of an unpaused unit', () => {
    const p = pauseDecision('web.service', [tuneEnd], { action: 'pause', forMs: 60_000 }, T0, true);
    expect(p.record).toEqual({ kind: 'guard', action: 'pause', by: 'user', until: new Date(T0 + 60_000).toISOString() });
    expect(p.result).toEqual({ unit: 'web.service', action: 'pause', changed: true, until: new Date(T0 + 60_000).toISOString(), enrolled: true });
    const again = pauseDecision('web.service', [pause(T0, 60_000)], { action: 'pause', forMs: 7200_000 }, T0 + 1000, true);
    expect(again.result.previousUntil).toBe(new Date(T0 + 60_000).toISOString());
    const r = pauseDecision('web.service', [pause(T0, 60_000)], { action: 'resume', forMs: 0 }, T0 + 1000, true);
    expect(r.record).toEqual({ kind: 'guard', action: 'resume', by: 'user' });
    expect(r.result.changed).toBe(true);
    const noop = pauseDecision('web.service', [pause(T0, 60_000)], { action: 'resume', forMs: 0 }, T0 + 60_000, true);
    expect(noop.record).toBeUndefined();
    expect(pauseText(noop.result)).toBe('web.service: the guard is not paused; nothing to resume');
    for (const forMs of [0, 999, PAUSE_MAX_MS + 1, 1.5]) {
      expect(refusal(() => pauseDecision('web.service', [], { action: 'pause', forMs }, T0, true)).code).toBe('Usage');
    }
  });

  it('refuses a unit with nothing to guard (exit 6) and one being tuned, with one line', () => {
    const none = refusal(() => decidePause({ unit: 'web.service', action: 'pause', forMs: 0 }, { records: [], journaled: false }, T0));
    expect(none.code).toBe('UnitUnknown');
    expect(none.message).toBe('web.service is neither enrolled nor tuned: autoharden guards nothing there to pause');
    expect(refusal(() => decidePause({ unit: 'web.service', action: 'resume', forMs: 0 }, { records: [], journaled: false }, T0)).code).toBe('UnitUnknown');
    const tuning = refusal(() => decidePause({ unit: 'web.service', action: 'pause', forMs: 0 }, { records: [tuneEnd], journaled: true, state: 'tuning' }, T0));
    expect(tuning.code).toBe('Failed');
    expect(tuning.message).toMatch(/being tuned/);
    // no --for: one hour; a queued unit may be paused (its tune waits)
    const d = decidePause({ unit: 'web.service', action: 'pause', forMs: 0 }, { records: [], journaled: false, state: 'queued' }, T0);
    expect(d.result.until).toBe(new Date(T0 + 3_600_000).toISOString());
  });

  it('shows in status and journal', () => {
    const j = [tuneEnd, pause(T0, 60_000)];
    const row = statusRow('web.service', j, undefined, null, undefined, T0 + 1000);
    expect(row.pausedUntil).toBe(new Date(T0 + 60_000).toISOString());
    expect(statusRow('web.service', j, undefined, null, undefined, T0 + 60_000).pausedUntil).toBeUndefined();
    expect(formatStatus([{ ...row, pausedUntil: new Date(Date.now() + 60_000).toISOString() }])).toMatch(/web\.service +tuned \(paused until (\d{4}-\d\d-\d\d )?\d\d:\d\d\) +9\.6 → 3\.0/);
    expect(formatStatus([row])).toMatch(/web\.service +tuned +9\.6/); // its time is up (the row is old)
    expect(formatRecord(j[1]!)).toMatch(/guard +paused until 2026-12-02 12:01:00Z by user$/);
    expect(formatRecord(rec(T0 + 60_000, expiredPause(j, T0 + 60_000)!))).toMatch(/guard +resumed: the pause until 2026-12-02 12:01:00Z ended$/);
    expect(formatRecord(resume(T0))).toMatch(/guard +resumed by user$/);
    // the same day: the time; another day: the date too
    expect(clockText(Date.parse('2026-12-02T23:00:00'), Date.parse('2026-12-02T08:00:00'))).toBe('23:00');
    expect(clockText(Date.parse('2026-12-03T01:05:00'), Date.parse('2026-12-02T23:00:00'))).toBe('2026-12-03 01:05');
  });
});

// ---- the daemon ----------------------------------------------------------------------------------

let live: Daemon[] = [];
afterEach(async () => {
  for (const d of live) await d.stop();
  live = [];
});

/** `setupFails`: the check unit cannot set up the sandbox with these options (226/NAMESPACE). */
function daemonOn(stateDir: string, checks: string[][] = [], alerts: string[] = [], setupFails: (options: string[]) => boolean = () => false, logs: string[] = []) {
  const { unitOf } = simUnits();
  const d = new Daemon(daemonDeps(stateDir, {
    systemd: simSystemd(unitOf),
    portsFor: (u) => simPorts(unitOf(u), stateDir),
    newSession: (ports, o) => stubSession(ports, o),
    checkSandbox: async (u, settings) => {
      const options = settings.map((s) => s.option);
      checks.push(options);
      if (!setupFails(options)) return { setUp: true, reason: 'the sandbox sets up (checked with /bin/true)' };
      return checkOutcome('failed', { ...unitOf(u).snap, activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: 226 });
    },
    signals: { progress: () => {}, trialFinished: () => {}, alert: (_u, m) => alerts.push(m) },
    log: { info: (m) => logs.push(m), warn: () => {}, error: () => {}, debug: () => {} },
  }));
  live.push(d);
  return { d, unitOf };
}

/** The unit fails on its own (the admin's config change), as systemd signals it. */
function fail(d: Daemon, unitOf: (u: string) => ReturnType<ReturnType<typeof simUnits>['unitOf']>, unit: string, inv: string): void {
  const u = unitOf(unit);
  u.snap = { ...u.snap, invocationId: inv, activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: 226 };
  d.unitChanged(unit, 'org.freedesktop.systemd1.Service', { InvocationID: inv, Result: 'exit-code', ExecMainCode: 1, ExecMainStatus: 226 });
  d.unitChanged(unit, 'org.freedesktop.systemd1.Unit', { ActiveState: 'failed', SubState: 'failed' });
}

/** Puts ProtectSystem=strict and PrivateDevices=yes in the unit's accepted set, as a tune would. */
function accept(dir: string, unit: string): void {
  const j = journalFor(dir, unit);
  [setting('ProtectSystem', 'strict'), setting('PrivateDevices')].forEach((s, i) => {
    j.append({ kind: 'trial-begin', trial: 100 + i, settings: [s] });
    j.append({ kind: 'trial-end', trial: 100 + i, settings: [s], outcome: 'accepted', verdict: 'ok', reason: 'ok', evidence: [] });
  });
}

const kinds = (dir: string, unit: string) => journalFor(dir, unit).read().filter((r) => r.kind === 'guard' || r.kind === 'alert' || r.kind === 'rollback')
  .map((r) => (r.kind === 'guard' ? `${r.action} by ${r.by}` : r.kind));

describe('the daemon with a pause', () => {
  it('leaves a failure during the pause to the admin, and judges it when the pause is resumed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-pause-'));
    const checks: string[][] = [];
    const alerts: string[] = [];
    const logs: string[] = [];
    const { d, unitOf } = daemonOn(dir, checks, alerts, undefined, logs);
    await d.start();
    await d.enroll({ unit: 'web' });
    await until(() => d.status('web.service')[0]!.state === 'guarding' && d.guard.guarded().includes('web.service'));
    accept(dir, 'web.service');
    const p = await d.guardPause('web.service', 'pause', 60_000);
    expect(p).toMatchObject({ unit: 'web.service', action: 'pause', changed: true, enrolled: true });
    expect(d.status('web.service')[0]!.pausedUntil).toBe(p.until);
    fail(d, unitOf, 'web.service', 'broken-by-admin');
    await until(() => logs.some((l) => l.includes("web.service failed during the admin's pause: left to the admin")));
    expect(checks).toEqual([]);
    expect(alerts).toEqual([]);
    expect(kinds(dir, 'web.service')).toEqual(['pause by user']);
    const r = await d.guardPause('web.service', 'resume', 0);
    expect(r.changed).toBe(true);
    await until(() => alerts.length > 0);
    // judged like any failure: the sandbox sets up, so it is the admin's, alerted; nothing relaxed
    expect(alerts[0]).toMatch(/226.*sets up/);
    expect(checks).toEqual([['ProtectSystem', 'PrivateDevices']]);
    expect(kinds(dir, 'web.service')).toEqual(['pause by user', 'resume by user', 'alert']);
    expect(d.status('web.service')[0]!.pausedUntil).toBeUndefined();
    expect((await d.guardPause('web.service', 'resume', 0)).changed).toBe(false);
    expect(kinds(dir, 'web.service')).toHaveLength(3);
  });

  it("rolls back at the resume what the check unit proves cannot be set up, whoever's work left it so", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-pause-'));
    const checks: string[][] = [];
    const logs: string[] = [];
    const { d, unitOf } = daemonOn(dir, checks, [], (o) => o.includes('PrivateDevices'), logs);
    await d.start();
    await d.enroll({ unit: 'web' });
    await until(() => d.guard.guarded().includes('web.service'));
    accept(dir, 'web.service');
    await d.guardPause('web.service', 'pause', 60_000);
    fail(d, unitOf, 'web.service', 'upgraded');
    await until(() => logs.some((l) => l.includes("web.service failed during the admin's pause: left to the admin")));
    expect(checks).toEqual([]);
    await d.guardPause('web.service', 'resume', 0);
    await until(() => kinds(dir, 'web.service').includes('rollback'));
    const rb = journalFor(dir, 'web.service').read().filter((r) => r.kind === 'rollback');
    expect(rb.map((r) => r.kind === 'rollback' && [r.by, r.options])).toEqual([['guard', ['PrivateDevices']]]);
    expect(kinds(dir, 'web.service')).toEqual(['pause by user', 'resume by user', 'rollback']);
  });

  it('ends a pause by itself at its end, journaled as by expiry, and takes up the failure then', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-pause-'));
    const alerts: string[] = [];
    const { d, unitOf } = daemonOn(dir, [], alerts);
    await d.start();
    await d.enroll({ unit: 'web' });
    await until(() => d.guard.guarded().includes('web.service'));
    await d.guardPause('web.service', 'pause', 1000);
    fail(d, unitOf, 'web.service', 'x1');
    expect(alerts).toEqual([]);
    await until(() => alerts.length > 0, 5000);
    expect(kinds(dir, 'web.service')).toEqual(['pause by user', 'resume by expiry', 'alert']);
  });

  it('keeps a pause across a restart of the daemon, journals one that ended while it was away, and holds a queued tune', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-pause-'));
    const first = daemonOn(dir);
    await first.d.start();
    await first.d.enroll({ unit: 'web' });
    await first.d.enroll({ unit: 'db' });
    await until(() => first.d.guard.guarded().length === 2);
    await first.d.guardPause('web.service', 'pause', 3_600_000);
    await first.d.guardPause('db.service', 'pause', 1000);
    await first.d.stop();
    await new Promise((r) => setTimeout(r, 1100)); // db's pause ends while no daemon runs
    expect(kinds(dir, 'db.service')).toEqual(['pause by user']);
    // a unit paused, then enrolled: its tune waits for the pause
    journalFor(dir, 'next.service').append({ kind: 'guard', action: 'pause', by: 'user', until: new Date(Date.now() + 3_600_000).toISOString() });

    const second = daemonOn(dir);
    await second.d.start();
    await until(() => second.d.guard.guarded().length === 2);
    expect(second.d.status('web.service')[0]!.pausedUntil).toBeDefined();
    expect(formatStatus(second.d.status('web.service'))).toMatch(/guarding \(paused until (\d{4}-\d\d-\d\d )?\d\d:\d\d\)/);
    expect(kinds(dir, 'db.service')).toEqual(['pause by user', 'resume by expiry']);
    expect(kinds(dir, 'web.service')).toEqual(['pause by user']);
    await second.d.enroll({ unit: 'next' });
    await second.d.enroll({ unit: 'other' });
    // the queue served the unit enrolled after it: it passed the paused one over
    await until(() => second.d.status('other.service')[0]!.state === 'guarding');
    expect(second.d.status('next.service')[0]!.state).toBe('queued');
    await second.d.guardPause('next.service', 'resume', 0);
    await until(() => second.d.status('next.service')[0]!.state === 'guarding');
    // a unit only `tune` touched: pausable (journaled), said to guard nothing
    journalFor(dir, 'old.service').append(tuneEnd);
    const lone = await second.d.guardPause('old.service', 'pause', 60_000);
    expect(lone.enrolled).toBe(false);
    expect(pauseText(lone)).toMatch(/not enrolled: no daemon guards it/);
    await expect(second.d.guardPause('nothing.service', 'pause', 0)).rejects.toMatchObject({ code: 'UnitUnknown' });
    await expect(second.d.guardPause('web.service', 'pause', 10)).rejects.toMatchObject({ code: 'Usage' });
  });
});
