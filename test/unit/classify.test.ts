import { describe, expect, it } from 'vitest';
import { causeSchema, describeCause, kindOf, type Cause } from '../../src/core/cause.js';
import { classifyFailure, classifyTrial, implicatedOptions } from '../../src/core/classify.js';
import type { OptionSpec, UnitSnapshot } from '../../src/core/types.js';

const snap = (o: Partial<UnitSnapshot> = {}): UnitSnapshot => ({
  activeState: 'active', subState: 'running', result: 'success', invocationId: 'aaaa1111', nRestarts: 0,
  mainPid: 10, execMainCode: 0, execMainStatus: 0, ...o,
});
const ok = { probe: 'http://127.0.0.1/', ok: true, detail: 'HTTP 200' };

describe('classifyTrial', () => {
  it('accepts a stable unit whose probes pass', () => {
    const v = classifyTrial({ jobResult: 'done', start: snap(), samples: [snap(), snap()], probes: [ok], logs: [] });
    expect(v).toMatchObject({ ok: true, kind: 'ok' });
  });
  it('names the systemd exit status of a failed start', () => {
    const failed = snap({ activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: 226 });
    const v = classifyTrial({ jobResult: 'done', start: snap(), samples: [failed], probes: [], logs: ['x.service: Failed to set up mount namespacing: Read-only file system'] });
    expect(v.ok).toBe(false);
    expect(v.kind).toBe('exit-status');
    expect(v.reason).toContain('226/NAMESPACE');
    expect(v.evidence).toContain('x.service: Failed to set up mount namespacing: Read-only file system');
  });
  it('reads the control process status from the logs when the start job fails (Type=forking)', () => {
    const v = classifyTrial({
      jobResult: 'failed', start: snap({ activeState: 'failed', result: 'exit-code' }), samples: [], probes: [],
      logs: ['nginx.service: Control process exited, code=exited, status=218/CAPABILITIES'],
    });
    expect(v.reason).toMatch(/^control process exit status 218\/CAPABILITIES; restart job failed/);
  });
  it('recognises SIGSYS from a system call filter', () => {
    const dead = snap({ activeState: 'failed', result: 'core-dump', execMainCode: 3, execMainStatus: 31 });
    const v = classifyTrial({ jobResult: 'done', start: snap(), samples: [dead], probes: [], logs: [] });
    expect(v.kind).toBe('signal');
    expect(v.reason).toContain('SIGSYS');
  });
  it('rejects a unit that restarted during settle even though it is active again', () => {
    const again = snap({ invocationId: 'bbbb2222', nRestarts: 1 });
    const v = classifyTrial({ jobResult: 'done', start: snap(), samples: [again], probes: [ok], logs: [] });
    expect(v).toMatchObject({ ok: false, kind: 'restarted' });
  });
  it('rejects on a failing probe and says which', () => {
    const v = classifyTrial({ jobResult: 'done', start: snap(), samples: [snap()], probes: [ok, { probe: 'tcp://127.0.0.1:81', ok: false, detail: 'ECONNREFUSED' }], logs: [] });
    expect(v).toMatchObject({ ok: false, kind: 'probe-failed' });
    expect(v.reason).toBe('probe tcp://127.0.0.1:81 failed: ECONNREFUSED');
  });
});

describe('implicatedOptions', () => {
  const spec = (name: string, exitStatuses: number[], logHints: string[] = []) => ({ name, exitStatuses, logHints }) as unknown as OptionSpec;
  const cat = [spec('ProtectSystem', [226], ['read-only file system']), spec('CapabilityBoundingSet', [218], ['operation not permitted']),
    { ...spec('SystemCallFilter', [228]), failsWith: { signal: 'SIGSYS' } } as OptionSpec];
  const state = { kind: 'state', active: 'failed', sub: 'failed', result: 'exit-code' } as const;
  const exit = (status: number, name?: string): Cause => ({ kind: 'exit', process: 'main', seen: 'state', state, status, ...(name ? { name } : {}) });
  it('follows exit status, SIGSYS and log hints', () => {
    expect(implicatedOptions(exit(226, 'NAMESPACE'), [], cat)).toEqual(['ProtectSystem']);
    expect(implicatedOptions({ kind: 'signal', process: 'main', seen: 'state', state, signal: 31, name: 'SYS', dumped: false }, [], cat)).toEqual(['SystemCallFilter']);
    expect(implicatedOptions({ kind: 'log', line: 'x', source: 'journal' }, ['open(): Operation not permitted'], cat)).toEqual(['CapabilityBoundingSet']);
    expect(implicatedOptions(exit(1), [], cat)).toEqual([]);
  });
  it('reads the cause, not the prose made from it', () => {
    // the reason of a 226/NAMESPACE failure says "namespace"; an option hinted by that word is not implicated by it
    const ns = spec('RestrictNamespaces', [228], ['namespace']);
    expect(implicatedOptions(exit(226, 'NAMESPACE'), [], [...cat, ns])).toEqual(['ProtectSystem']);
    // a log cause's own line is read
    expect(implicatedOptions({ kind: 'log', line: 'open() "/etc/x" failed (30: Read-only file system)', source: 'file' }, [], cat)).toEqual(['ProtectSystem']);
    // a probe's failure or an unsettled unit points at nothing
    expect(implicatedOptions({ kind: 'probe', probe: 'tcp://127.0.0.1:1', error: 'operation not permitted' }, [], cat)).toEqual([]);
    expect(implicatedOptions({ kind: 'unsettled', state: { kind: 'job', result: 'timeout' } }, [], cat)).toEqual([]);
  });
  it('takes the signal an option fails with from its catalog entry', () => {
    const own = { ...spec('Custom', []), failsWith: { signal: 'SIGILL' } } as OptionSpec;
    const ill: Cause = { kind: 'signal', process: 'main', seen: 'state', state, signal: 4, name: 'ILL', dumped: true };
    expect(implicatedOptions(ill, [], [...cat, own])).toEqual(['Custom']);
  });
});

describe('causes', () => {
  const failed = snap({ activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: 226 });
  it('derives the kind and the reason from the cause', () => {
    const v = classifyTrial({ jobResult: 'done', start: snap(), samples: [failed], probes: [], logs: [] });
    expect(v.cause).toEqual({ kind: 'exit', process: 'main', seen: 'state', status: 226, name: 'NAMESPACE', state: { kind: 'state', active: 'failed', sub: 'failed', result: 'exit-code' } });
    expect(v.reason).toBe(describeCause(v.cause));
    expect(v.reason).toBe('main process exit status 226/NAMESPACE; unit is failed/failed (Result=exit-code)');
    expect(kindOf(v.cause)).toBe(v.kind);
    const t = classifyTrial({ jobResult: 'timeout', start: snap({ activeState: 'activating' }), samples: [], probes: [], logs: [] });
    expect(t).toMatchObject({ kind: 'not-settled', reason: 'restart job timeout', cause: { kind: 'unsettled', state: { kind: 'job', result: 'timeout' } } });
  });
  it('tells where a new log line came from', () => {
    const base = { jobResult: 'done', start: snap(), samples: [snap()], probes: [ok], knownErrors: new Set<string>() };
    const line = '/var/log/x/error.log: open() "/etc/x" failed (30: Read-only file system)';
    expect(classifyTrial({ ...base, logs: [], fileLogs: [line] }).cause).toEqual({ kind: 'log', line, source: 'file' });
    expect(classifyTrial({ ...base, logs: ['x: EPERM'], fileLogs: [line] }).cause).toEqual({ kind: 'log', line: 'x: EPERM', source: 'journal' });
  });
  it("classifies a guarded unit's failure from what systemd recorded, without a trial", () => {
    const v = classifyFailure({ activeState: 'activating', subState: 'auto-restart', result: 'signal', execMainCode: 2, execMainStatus: 31 }, ['a', 'b']);
    expect(v).toMatchObject({ ok: false, kind: 'signal', evidence: ['a', 'b'], cause: { kind: 'signal', signal: 31, seen: 'state', state: { kind: 'state', sub: 'auto-restart' } } });
    expect(v.reason).toBe('main process killed by SIGSYS (seccomp: a system call was filtered); unit is activating/auto-restart (Result=signal)');
    // systemd's line in the logs names the control process
    const c = classifyFailure(failed, ['nginx.service: Control process exited, code=exited, status=1/FAILURE']);
    expect(c.cause).toMatchObject({ kind: 'exit', process: 'control', seen: 'log', status: 1 });
    expect(c.reason).toBe('control process exit status 1; unit is failed/failed (Result=exit-code)');
  });
  it('stores causes in journal records that survive a round trip, and old records need none', () => {
    const causes = [
      classifyTrial({ jobResult: 'done', start: snap(), samples: [failed], probes: [], logs: [] }).cause,
      classifyTrial({ jobResult: 'done', start: snap(), samples: [snap({ invocationId: 'bbbb2222' })], probes: [], logs: [] }).cause,
      classifyTrial({ jobResult: 'done', start: snap(), samples: [snap()], probes: [ok], logs: [] }).cause,
    ];
    for (const c of causes) expect(describeCause(causeSchema.parse(JSON.parse(JSON.stringify(c))))).toBe(describeCause(c));
    expect(causeSchema.optional().parse(undefined)).toBeUndefined();
    expect(() => causeSchema.parse({ kind: 'exit', status: '226' })).toThrow();
  });
});
