// The daemon's pure parts: enrollment specs, the guard's decisions, status rows, journal-follow
// parsing, journald priorities.
import { describe, expect, it } from 'vitest';
import { parse as parseJournalLine } from '../../src/adapters/journalFollow.js';
import { introspectionXml, codeOfErrorName } from '../../src/adapters/dbusApi.js';
import { describeCause, type Cause, type UnitState } from '../../src/core/cause.js';
import { CATALOG } from '../../src/core/catalog.js';
import { AutohardenError } from '../../src/core/errors.js';
import type { JournalRecord } from '../../src/core/journal.js';
import { checkOutcome } from '../../src/core/sandboxCheck.js';
import { REPRODUCTION_ARMS, checkSuspects, failureOf, failureSignature, pointedAt, relaxCandidate, reproduced } from '../../src/daemon/guardRules.js';
import { journalDestination, priorityOf } from '../../src/daemon/log.js';
import { parseEnrollSpec } from '../../src/daemon/spec.js';
import { formatStatus, statusRow } from '../../src/daemon/status.js';
import { newEnrollment } from '../../src/daemon/store.js';
import { thrown } from './expect-errors.js';

const s = (option: string, value = 'yes') => ({ option, value, lines: [`${option}=${value}`] });
const failedState: UnitState = { kind: 'state', active: 'failed', sub: 'failed', result: 'exit-code' };
const exit = (status: number, name?: string, process: 'main' | 'control' = 'main', state = failedState): Cause =>
  ({ kind: 'exit', process, seen: 'state', state, status, ...(name ? { name } : {}) });
const logged = (line: string): Cause => ({ kind: 'log', line, source: 'journal' });
const failure = (cause: Cause, newErrors: string[] = []) => ({ cause, reason: describeCause(cause), newErrors });

const refusal = (input: unknown) => thrown(() => parseEnrollSpec(input), AutohardenError);

describe('enrollment specs', () => {
  it('fills in the defaults and normalises the unit name', () => {
    expect(parseEnrollSpec({ unit: 'nginx' })).toEqual({
      unit: 'nginx.service', probes: [], settleMs: 2000, strategy: 'adaptive', persist: true,
      allowNet: [], localOnly: false, confineSessions: false, guard: 'alert', guardFloor: [],
    });
    expect(parseEnrollSpec('{"unit":"redis-server.service","probes":["tcp://127.0.0.1:6379","exec:redis-cli ping"],"settleMs":800}').probes).toHaveLength(2);
    expect(parseEnrollSpec({ unit: 'x', workload: 'lower:/([0-9.]+) ms/:redis-benchmark -q', budget: 0.05 })).toMatchObject({ workload: 'lower:/([0-9.]+) ms/:redis-benchmark -q', budget: 0.05 });
  });

  it.each([
    ['not json', /not JSON/],
    [{}, /unit/],
    [{ unit: 'a/../b.service' }, /unit: invalid unit name/],
    [{ unit: 'foo.socket' }, /not a service/],
    [{ unit: 'x', probes: ['htp:/nope'] }, /probes\[0\]: bad probe spec/],
    [{ unit: 'x', probes: 'http://a/' }, /probes/],
    [{ unit: 'x', settleMs: 50 }, /settleMs/],
    [{ unit: 'x', settleMs: 1.5 }, /settleMs/],
    [{ unit: 'x', strategy: 'random' }, /strategy/],
    [{ unit: 'x', allowNet: ['10.0.0.0/99'] }, /allowNet\[0\]: bad --allow-net/],
    [{ unit: 'x', allowNet: ['10.0.0.0/8'], localOnly: true }, /contradict/],
    [{ unit: 'x', probe: [] }, /Unrecognized key/],
    [{ unit: 'autoharden' }, /does not tune itself/],
    [{ unit: 'x', workload: 'curl' }, /workload: bad workload spec/],
    [{ unit: 'x', budget: 0.05 }, /--budget needs --workload/],
    [{ unit: 'x', workload: 'exec:true', budget: -1 }, /budget/],
    [{ unit: 'dbus.service' }, /system bus/],
  ])('refuses %j with a one-line usage error', (input, message) => {
    const e = refusal(input);
    expect(e.code).toBe('Usage');
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });
});

describe('guard decisions', () => {
  const accepted = [s('ProtectKernelTunables'), s('PrivateTmp'), s('ProtectSystem', 'strict'), s('CapabilityBoundingSet', 'keep NET_BIND_SERVICE'), s('ProtectHome')];
  const erofs = failure(exit(10), ["FATAL: cannot write /etc/x: EROFS: read-only file system, open '/etc/x'"]);

  it('says which accepted options untrusted evidence points at, most recently accepted first', () => {
    expect(pointedAt(erofs, accepted, CATALOG)).toEqual(['ProtectSystem', 'ProtectKernelTunables']);
    expect(pointedAt(failure(exit(218, 'CAPABILITIES')), accepted, CATALOG)).toEqual(['CapabilityBoundingSet']);
    const sigsys: Cause = { kind: 'signal', process: 'main', seen: 'state', state: failedState, signal: 31, name: 'SYS', dumped: false };
    expect(pointedAt(failure(sigsys), [...accepted, s('SystemCallFilter', '@system-service')], CATALOG)).toEqual(['SystemCallFilter']);
    const f = failureOf({ ...failure(exit(1, undefined, 'control')), evidence: [] }, new Set(), [
      'nginx: [emerg] unknown directive "foo" in /etc/nginx/conf.d/x.conf:1',
      'nginx: configuration file /etc/nginx/nginx.conf test failed',
    ]);
    expect(f.newErrors).toEqual([]);
    expect(pointedAt(f, accepted, CATALOG)).toEqual([]);
  });

  it('looks first where the exit status of the check unit points', () => {
    const check = (status: number) => checkOutcome('failed', {
      activeState: 'failed', subState: 'failed', result: 'exit-code', invocationId: 'c', nRestarts: 0, mainPid: 0, execMainCode: 1, execMainStatus: status,
    });
    expect(check(226).reason).toBe('the sandbox cannot be set up: /bin/true under it exit status 226/NAMESPACE');
    expect(checkSuspects(check(226), accepted, CATALOG)[0]).toBe('ProtectHome');
    expect(checkSuspects(check(218), accepted, CATALOG)).toEqual(['CapabilityBoundingSet']);
    expect(checkSuspects({ setUp: true, reason: 'the sandbox sets up (checked with /bin/true)' }, accepted, CATALOG)).toEqual([]);
  });

  it('relaxes on reproduction only with every arm agreeing, at most one setting a day, never below the floor', () => {
    expect(reproduced([{ arm: 'A', ok: true }, { arm: 'B', ok: false }, { arm: 'B', ok: false }, { arm: 'A', ok: true }])).toBe(true);
    expect(reproduced([{ arm: 'A', ok: true }, { arm: 'B', ok: false }, { arm: 'B', ok: true }, { arm: 'A', ok: true }])).toBe(false);
    expect(reproduced([{ arm: 'A', ok: false }, { arm: 'B', ok: false }])).toBe(false);
    expect(reproduced([])).toBe(false);
    expect(REPRODUCTION_ARMS.at(-1)).toBe('A');
    const now = Date.parse('2026-06-02T12:00:00Z');
    expect(relaxCandidate(['ProtectSystem', 'PrivateTmp'], [], [], now)).toEqual({ option: 'ProtectSystem' });
    expect(relaxCandidate(['ProtectSystem', 'PrivateTmp'], ['ProtectSystem'], [], now)).toEqual({ option: 'PrivateTmp' });
    expect(relaxCandidate(['ProtectSystem'], ['ProtectSystem'], [], now)).toMatchObject({ refuse: expect.stringMatching(/floor/) });
    expect(relaxCandidate([], [], [], now)).toMatchObject({ refuse: expect.stringMatching(/points at no accepted setting/) });
    const relaxed = (t: string) => ({ t, unit: 'x.service', kind: 'rollback', by: 'guard', options: ['X'], reason: 'reproduced: …' }) as JournalRecord;
    expect(relaxCandidate(['PrivateTmp'], [], [relaxed('2026-06-02T00:00:00.000Z')], now)).toMatchObject({ refuse: expect.stringMatching(/one a day/) });
    expect(relaxCandidate(['PrivateTmp'], [], [relaxed('2026-06-01T11:00:00.000Z')], now)).toEqual({ option: 'PrivateTmp' });
    // a user's rollback or a trusted one does not count against the day
    const user = { ...relaxed('2026-06-02T11:00:00.000Z'), by: 'user', reason: 'rollback --option X' } as JournalRecord;
    expect(relaxCandidate(['PrivateTmp'], [], [user], now)).toEqual({ option: 'PrivateTmp' });
  });

  it('ignores errno-like lines the unit logged before tuning', () => {
    const line = 'open() "/srv/private" failed (13: Permission denied)';
    const known = new Set([failureSignature(failure(logged(line), [line]))]);
    expect(failureOf({ ...failure(exit(1)), evidence: [line] }, known).newErrors).toEqual([]);
    // numbers and times do not make a known error new
    expect(failureOf({ ...failure(exit(1)), evidence: ['open() "/srv/private" failed (13: Permission denied) pid 4242'] }, new Set(['open() "/srv/private" failed (n: permission denied) pid n'])).newErrors).toEqual([]);
  });

  it('identifies a failure across occurrences by its first new error, else by its exit', () => {
    const a = failureSignature(failure(exit(1), ['2026-01-01T10:00:00Z pid 12: EROFS: read-only file system']));
    const b = failureSignature(failure(exit(2), ['2026-01-02T11:00:00Z pid 99: EROFS: read-only file system']));
    expect(a).toBe(b);
    // a client varying the path does not make a new kind of failure (one alert per kind)
    expect(failureSignature(failure(exit(1), ['open() "//etc/cron.d/a" failed (30: Read-only file system)'])))
      .toBe(failureSignature(failure(exit(1), ['open() "/./etc/b" failed (30: Read-only file system)'])));
    const restarting: UnitState = { kind: 'state', active: 'activating', sub: 'auto-restart', result: 'exit-code' };
    expect(failureSignature(failure(exit(1, undefined, 'control')))).toBe(failureSignature(failure(exit(1, undefined, 'control', restarting))));
    // but a process killed is another failure than one that exited
    const killed: Cause = { kind: 'signal', process: 'control', seen: 'state', state: failedState, signal: 9, name: 'KILL', dumped: false };
    expect(failureSignature(failure(exit(1, undefined, 'control')))).not.toBe(failureSignature(failure(killed)));
  });
});

describe('status rows', () => {
  const rec = (r: Partial<JournalRecord> & { kind: JournalRecord['kind'] }, t = '2026-01-01T00:00:00.000Z') =>
    ({ t, unit: 'x.service', ...r }) as JournalRecord;
  const records: JournalRecord[] = [
    rec({ kind: 'tune-begin', strategy: 'one-at-a-time', probes: [], exposure: 9.6 }),
    rec({ kind: 'trial-begin', trial: 1, settings: [s('PrivateTmp')] }),
    rec({ kind: 'trial-end', trial: 1, settings: [s('PrivateTmp')], outcome: 'accepted', verdict: 'ok', reason: 'ok', evidence: [] }),
    rec({ kind: 'trial-begin', trial: 2, settings: [s('ProtectHome')] }),
  ];

  it('folds the journal and the enrollment into one row', () => {
    const e = newEnrollment(parseEnrollSpec({ unit: 'x' }));
    e.state = 'tuning';
    const r = statusRow('x.service', records, e, { trial: 2, settings: 'ProtectHome=yes' });
    expect(r).toMatchObject({ unit: 'x.service', state: 'tuning', enrolled: true, exposureBefore: 9.6, exposureAfter: null, trials: 1, accepted: ['PrivateTmp=yes'] });
    expect(formatStatus([r])).toMatch(/x\.service\s+tuning\s+9\.6 → …\s+1\s+#2 ProtectHome=yes/);
  });

  it('without the daemon: an open trial of a unit not enrolled reads as interrupted', () => {
    expect(statusRow('x.service', records).state).toBe('interrupted');
    const done = [...records, rec({ kind: 'recovered', trial: 2, settings: [s('ProtectHome')], reason: 'r' }),
      rec({ kind: 'tune-end', exposureBefore: 9.6, exposureAfter: 8.1, trials: 1, restarts: 2, durationMs: 1 })];
    expect(statusRow('x.service', done)).toMatchObject({ state: 'tuned', exposureAfter: 8.1, currentTrial: null });
  });
});

describe('journal follower lines', () => {
  const units = new Set(['nginx.service']);
  it('keeps the unit\'s own lines, not systemd\'s about it', () => {
    const own = JSON.stringify({ _SYSTEMD_UNIT: 'nginx.service', _PID: '42', MESSAGE: 'open() failed (30: Read-only file system)', __REALTIME_TIMESTAMP: '1700000000123456' });
    expect(parseJournalLine(own, units)).toEqual({ unit: 'nginx.service', time: 1700000000123, message: 'open() failed (30: Read-only file system)' });
    expect(parseJournalLine(JSON.stringify({ _SYSTEMD_UNIT: 'init.scope', UNIT: 'nginx.service', _PID: '1', MESSAGE: 'x' }), units)).toBeUndefined();
    expect(parseJournalLine(JSON.stringify({ _SYSTEMD_UNIT: 'other.service', MESSAGE: 'x' }), units)).toBeUndefined();
    const binary = JSON.stringify({ _SYSTEMD_UNIT: 'nginx.service', MESSAGE: [104, 105] });
    expect(parseJournalLine(binary, units)?.message).toBe('hi');
    expect(parseJournalLine('not json', units)).toBeUndefined();
  });
});

describe('logging and the API description', () => {
  it('prefixes each line with its journald priority', () => {
    expect([10, 20, 30, 40, 50, 60].map(priorityOf)).toEqual([7, 7, 6, 4, 3, 2]);
    const out: string[] = [];
    const d = journalDestination((l) => out.push(l));
    d.write('{"level":50,"msg":"x"}\n');
    d.write('{"level":30,"msg":"y"}\n');
    expect(out).toEqual(['<3>{"level":50,"msg":"x"}\n', '<6>{"level":30,"msg":"y"}\n']);
  });

  it('documents every method, argument and signal in the introspection data', () => {
    const xml = introspectionXml({ Version: '1.2.3', StateDirectory: '/var/lib/autoharden' });
    for (const m of ['Enroll', 'Status', 'Journal', 'Rollback', 'Unenroll', 'Export']) expect(xml).toContain(`<method name="${m}">`);
    expect(xml).toContain('<signal name="TrialFinished">');
    expect(xml).toContain('<arg name="settle_ms" type="u" direction="in"/>');
    expect(xml).not.toMatch(/<!--[^>]*--[^>]*-->/); // no "--" inside a comment
    expect(codeOfErrorName('org.autoharden1.Error.Locked')).toBe('Locked');
    expect(codeOfErrorName('org.autoharden1.Error.Nope')).toBeUndefined();
  });
});
